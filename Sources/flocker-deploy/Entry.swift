import FlockerCLI

@main
struct Entry {
    static func main() async {
        await FlockerDeploy.runAndExit()
    }
}
