// flocker-fuzz TARGET [libFuzzer options and corpus folders]: runs libFuzzer on one target of `FuzzTargets`
// (`flocker-fuzz --list` names them).
// Built by fuzz/run.sh only (see fuzz/README.md): its Swift code is compiled with coverage instrumentation and
// AddressSanitizer, and it links libFuzzer's runtime without libFuzzer's `main`, which is this file.
import FlockerFuzzChecks

#if canImport(Glibc)
    import Glibc
#endif

/// libFuzzer's entry when the program has its own `main` (compiler-rt's FuzzerInterface.h).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target's checks, set once before libFuzzer starts (a C callback cannot capture it).
nonisolated(unsafe) var checks: (@Sendable ([UInt8]) throws(FuzzFailure) -> Void)?

let arguments = CommandLine.arguments
if arguments.count == 2 && arguments[1] == "--list" {
    print(FuzzTargets.names.joined(separator: "\n"))
    exit(0)
}
guard arguments.count >= 2, let chosen = FuzzTargets.checks(arguments[1]) else {
    let usage =
        "usage: flocker-fuzz TARGET [libFuzzer options] [corpus folders] | --list; targets: \(FuzzTargets.names.joined(separator: ", "))\n"
    _ = usage.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
checks = chosen
// libFuzzer sees the program name and what follows the target.
var argv = CommandLine.unsafeArgv
argv[1] = argv[0]
var argc = CommandLine.argc - 1
var shifted = argv + 1
exit(
    LLVMFuzzerRunDriver(&argc, &shifted) { data, size in
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        do {
            try checks?(bytes)
        } catch {
            // A trap is what libFuzzer reports as a crash, with this message in its log.
            fatalError("\(error)")
        }
        return 0
    })
