/// The fuzz targets and the properties each checks, in one place: `flocker-fuzz TARGET` (fuzz/Driver, built by
/// fuzz/run.sh with libFuzzer) runs them on generated inputs, and the unit test `FuzzRegressionTests` runs them on
/// the inputs kept in fuzz/TARGET/regressions/. A broken property throws; a crash is a crash in either.
public enum FuzzTargets {
    /// Every target, in the order `make fuzz-smoke` runs them.
    public static let names = ["yaml", "manifest", "discovery"]

    /// The checks of target `name`, or nil for an unknown name.
    public static func checks(_ name: String) -> (@Sendable ([UInt8]) throws(FuzzFailure) -> Void)? {
        switch name {
        case "yaml": YAMLChecks.run
        case "manifest": ManifestChecks.run
        case "discovery": DiscoveryChecks.run
        default: nil
        }
    }
}

/// A property that did not hold for an input.
public struct FuzzFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "invariant broken: \(message)" }
}

/// Throws `message` unless `condition` holds.
func check(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
    if !condition { throw FuzzFailure(message: message()) }
}
