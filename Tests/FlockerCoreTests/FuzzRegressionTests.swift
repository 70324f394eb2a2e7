import FlockerFuzzChecks
import Foundation
import Testing

/// Replays the inputs the fuzzers found something with (fuzz/TARGET/regressions/), and the seeds the fuzzers start
/// from (fuzz/TARGET/seeds/), through the fuzz targets' own checks, so a fixed crash or broken property stays fixed
/// without running libFuzzer (fuzz/README.md).
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// The repository's fuzz/ folder, found from this file's path (the tests run from the source tree).
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz")

    /// The files of fuzz/TARGET/FOLDER, sorted.
    static func inputs(_ target: String, _ folder: String) -> [URL] {
        let folder = fuzzFolder.appendingPathComponent(target).appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { folder.appendingPathComponent($0) }
    }

    @Test("Every fuzz target's regression inputs and seeds pass its checks", arguments: FuzzTargets.names)
    func replay(_ target: String) throws {
        let checks = try #require(FuzzTargets.checks(target))
        for folder in ["regressions", "seeds"] {
            for file in Self.inputs(target, folder) {
                let bytes = try [UInt8](Data(contentsOf: file))
                #expect(throws: Never.self, "\(target)/\(folder)/\(file.lastPathComponent)") { try checks(bytes) }
            }
        }
    }

    @Test func theRegressionFolderIsFound() {
        #expect(FileManager.default.fileExists(atPath: Self.fuzzFolder.appendingPathComponent("run.sh").path))
    }
}
