// Evidence for the Foundation.Process entry of ../lsan-suppressions.txt: swift-corelibs-foundation (Swift 6.3.1
// toolchain) leaks a 32-byte weak-reference side table in Process.run(). One Process that runs /bin/true and is
// waited for is enough.
//
//   swiftc -sanitize=address -g Tests/sanitizers/evidence/foundation-process-leak.swift -o /tmp/process-leak-demo
//   /tmp/process-leak-demo   # LeakSanitizer: 32 byte(s) leaked in 1 allocation(s): formWeakReference <-
//                            # swift_weakAssign <- Foundation.Process.run()
import Foundation

let process = Process()
process.executableURL = URL(fileURLWithPath: "/bin/true")
try process.run()
process.waitUntilExit()
print("/bin/true exited with \(process.terminationStatus)")
