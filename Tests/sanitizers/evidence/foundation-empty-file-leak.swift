// Evidence for the first entry of ../lsan-suppressions.txt: FoundationEssentials (Swift 6.3.1 toolchain) leaks a
// 4096-byte buffer each time it reads an empty file; a file with content does not leak.
//
//   swiftc -sanitize=address -g Tests/sanitizers/evidence/foundation-empty-file-leak.swift -o /tmp/fe-leak-demo
//   /tmp/fe-leak-demo empty   # LeakSanitizer: 40960 byte(s) leaked in 10 allocation(s), in readBytesFromFile
//   /tmp/fe-leak-demo full    # no leak
import Foundation

let directory = NSTemporaryDirectory() + "/fe-leak-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let path = directory + "/file"
let content = CommandLine.arguments.dropFirst().first == "full" ? "hello\n" : ""
try content.write(toFile: path, atomically: true, encoding: .utf8)
for _ in 0..<10 {
    _ = try String(contentsOfFile: path, encoding: .utf8)
}
print("read a file of \(content.utf8.count) bytes 10 times")
