/// The version printed by `flocker-deploy --version`.
public enum FlockerVersion {
    public static let string = "0.1.0-dev"
}
