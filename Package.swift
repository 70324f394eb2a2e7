// swift-tools-version:6.0
// flocker-deploy: move stateful Docker containers between hosts together with their ZFS data.
import PackageDescription

let package = Package(
    name: "flocker-deploy",
    products: [
        .executable(name: "flocker-deploy", targets: ["flocker-deploy"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // System libraries. Only FlockerYAML imports CYAML; only FlockerSSH imports CLibSSH2.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),

        // Our wrappers: no C type in their public API.
        .target(name: "FlockerYAML", dependencies: ["CYAML"]),
        .target(name: "FlockerSSH", dependencies: ["CLibSSH2"]),

        // Manifests, discovery, planner, executor. Sees SSH only through the RemoteHost protocol,
        // except for the one adapter file that conforms an SSH connection to it.
        .target(
            name: "FlockerCore",
            dependencies: ["FlockerYAML", "FlockerSSH", .product(name: "Crypto", package: "swift-crypto")]),

        // The commands (argument parser) and the one-file executable.
        .target(
            name: "FlockerCLI",
            dependencies: ["FlockerCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "flocker-deploy", dependencies: ["FlockerCLI"]),
        // Drives benchmarks from bench/ (SSH streaming, relay); not a user command.
        .executableTarget(name: "flocker-bench", dependencies: ["FlockerSSH", "FlockerCore"]),
        // The properties the fuzz targets check (fuzz/README.md), shared by the fuzzer and the unit test that
        // replays its regression seeds.
        .target(name: "FlockerFuzzChecks", dependencies: ["FlockerCore", "FlockerYAML"], path: "fuzz/Checks"),

        .testTarget(name: "FlockerYAMLTests", dependencies: ["FlockerYAML"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FlockerSSHTests", dependencies: ["FlockerSSH"]),
        .testTarget(
            name: "FlockerCoreTests", dependencies: ["FlockerCore", "FlockerFuzzChecks"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FlockerCLITests", dependencies: ["FlockerCLI"]),
    ]
)

// The libFuzzer driver (fuzz/README.md): only declared when fuzz/run.sh builds it (FLOCKER_FUZZ=1, its own scratch
// path, sanitizer flags), so `swift build` and `swift test` never build or link it.
if Context.environment["FLOCKER_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(name: "flocker-fuzz", dependencies: ["FlockerFuzzChecks"], path: "fuzz/Driver"))
}
