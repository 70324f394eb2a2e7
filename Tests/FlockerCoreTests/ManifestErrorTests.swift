import Testing

@testable import FlockerCore

/// One malformed pair of manifests and the errors it must produce, in order: each as its location
/// (`FILE:LINE:COL`), its exact key path, and a fragment its message must contain.
struct ManifestBadCase: CustomTestStringConvertible, Sendable {
    var name: String
    var app: String
    var deployment: String
    var expected: [(location: String, path: String, fragment: String)]

    var testDescription: String { name }
}

private func bad(
    _ name: String, app: String, deployment: String = emptyDeployment,
    _ expected: (location: String, path: String, fragment: String)...
) -> ManifestBadCase {
    ManifestBadCase(name: name, app: app, deployment: deployment, expected: expected)
}

/// Flocker v1 application `web` with `settings`, plus `more` at the applications level.
private func web(_ settings: String) -> String { v1("image: nginx\n" + settings) }

private let twoApps = "version: 1\napplications:\n  web: {image: nginx}\n  redis: {image: redis}\n"

let manifestBadCases: [ManifestBadCase] = [
    // MARK: versions and top level (Flocker v1)
    bad(
        "version quoted", app: "version: \"1\"\napplications: {}\n",
        ("app.yml:1:10", "version", "expected the integer 1, found the string \"1\": write version: 1 without quotes")),
    bad(
        "version 2", app: "version: 2\napplications: {}\n",
        ("app.yml:1:10", "version", "unsupported version: expected 1 (the only version of this format), found 2")),
    bad(
        "version missing", app: "applications: {}\n",
        ("app.yml:1:1", "", "missing required key `version`")),
    bad(
        "applications missing", app: "version: 1\n",
        ("app.yml:1:1", "", "missing required key `applications`")),
    bad(
        "applications is a list", app: "version: 1\napplications: [web]\n",
        (
            "app.yml:2:15", "applications",
            "expected a mapping of application name → settings (write {} for none), found a list"
        )),
    bad(
        "top-level key misspelt", app: "version: 1\naplications: {}\n",
        ("app.yml:1:1", "", "missing required key `applications`"),
        ("app.yml:2:1", "aplications", "unknown key `aplications`: did you mean `applications`?")),
    bad(
        "document is a list", app: "- web\n",
        (
            "app.yml:1:1", "",
            "expected an application file: Flocker v1 (`version: 1` and `applications:`) or Compose (`services:`, or services with an `image` at the top level), found a list"
        )),

    // MARK: application keys
    bad(
        "image missing", app: v1("ports: []"),
        ("app.yml:4:5", "applications.web", "missing required key `image`")),
    bad(
        "image is a list", app: v1("image: [nginx]"),
        ("app.yml:4:12", "applications.web.image", "expected an image reference like \"redis:7\", found a list")),
    bad(
        "image uppercase", app: v1("image: MyOrg/App:1"),
        (
            "app.yml:4:12", "applications.web.image",
            "invalid image reference \"MyOrg/App:1\": repository names must be lowercase"
        )),
    bad(
        "image starts with -", app: v1("image: \"--privileged\""),
        ("app.yml:4:12", "applications.web.image", "an image reference cannot start with `-`")),
    bad(
        "image with a space", app: v1("image: \"redis; reboot\""),
        ("app.yml:4:12", "applications.web.image", "cannot contain spaces")),
    bad(
        "image bad tag", app: v1("image: \"redis:.7\""),
        ("app.yml:4:12", "applications.web.image", "invalid tag \".7\"")),
    bad(
        "image bad digest", app: v1("image: \"redis@sha256:abc\""),
        (
            "app.yml:4:12", "applications.web.image",
            "a digest is written @sha256: followed by 64 lowercase hexadecimal digits"
        )),
    bad(
        "image bad path component", app: v1("image: \"team/-app\""),
        ("app.yml:4:12", "applications.web.image", "\"-app\" is not a valid repository path component")),
    bad(
        "unknown key with did-you-mean", app: web("imag: x"),
        ("app.yml:5:5", "applications.web.imag", "unknown key `imag`: did you mean `image`?")),
    bad(
        "unknown key transposed", app: web("prots: []"),
        ("app.yml:5:5", "applications.web.prots", "unknown key `prots`: did you mean `ports`?")),
    bad(
        "compose key in v1 gets a hint", app: web("restart: always"),
        ("app.yml:5:5", "applications.web.restart", "unknown key `restart`: did you mean `restart_policy`?")),
    bad(
        "unknown key far from any", app: web("replicas: 3"),
        ("app.yml:5:5", "applications.web.replicas", "unknown key `replicas` (expected one of `image`, `ports`")),
    bad(
        "build in v1", app: web("build: ."),
        ("app.yml:5:5", "applications.web.build", "not supported: name a prebuilt image")),
    bad(
        "application settings null", app: "version: 1\napplications:\n  web:\n",
        (
            "app.yml:3:7", "applications.web",
            "expected a mapping of the application's settings (image, ports, …), found nothing"
        )),

    // MARK: names with shell metacharacters
    bad(
        "application name with ; rm -rf /", app: "version: 1\napplications:\n  \"a; rm -rf /\": {image: x}\n",
        (
            "app.yml:3:3", "applications[\"a; rm -rf /\"]",
            "application name \"a; rm -rf /\" is not allowed: names must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
        )),
    bad(
        "application name $(reboot)", app: "version: 1\napplications:\n  $(reboot): {image: x}\n",
        ("app.yml:3:3", "applications[\"$(reboot)\"]", "application name \"$(reboot)\" is not allowed")),
    bad(
        "application name with backticks", app: "version: 1\napplications:\n  \"`id`\": {image: x}\n",
        ("app.yml:3:3", "applications[\"`id`\"]", "application name \"`id`\" is not allowed")),
    bad(
        "application name too long",
        app: "version: 1\napplications:\n  \(String(repeating: "a", count: 64)): {image: x}\n",
        ("app.yml:3:3", "applications.\(String(repeating: "a", count: 64))", "is not allowed")),
    bad(
        "volume name with $()", app: web("volumes: [{name: \"$(reboot)\", mountpoint: /data}]"),
        (
            "app.yml:5:22", "applications.web.volumes[0].name",
            "volume name \"$(reboot)\" is not allowed: volume names must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
        )),
    bad(
        "volume name with a dot", app: web("volumes: [{name: a.b, mountpoint: /data}]"),
        ("app.yml:5:22", "applications.web.volumes[0].name", "volume name \"a.b\" is not allowed")),
    bad(
        "link alias with backticks",
        app:
            "version: 1\napplications:\n  a: {image: x, ports: [{internal: 1, external: 1}]}\n  b: {image: x, links: [{local_port: 1, remote_port: 1, alias: \"`x`\"}]}\n",
        (
            "app.yml:4:64", "applications.b.links[0].alias",
            "link alias \"`x`\" is not allowed: aliases must match ^[A-Za-z_][A-Za-z0-9_-]*$"
        )),
    bad(
        "environment name with =", app: web("environment: {\"A=B\": x}"),
        (
            "app.yml:5:19", "applications.web.environment[\"A=B\"]",
            "environment variable name \"A=B\" is not allowed: names must have no `=`, white space or control character, and no leading `#` (Docker's rule)"
        )),
    bad(
        "environment name with a space", app: web("environment: {\"MY VAR\": x}"),
        ("app.yml:5:19", "applications.web.environment[\"MY VAR\"]", "environment variable name \"MY VAR\" is not allowed")),

    // MARK: ports
    bad(
        "ports is a mapping", app: web("ports: {internal: 80, external: 80}"),
        (
            "app.yml:5:12", "applications.web.ports",
            "expected a list of ports like {internal: 80, external: 8080}, found a mapping"
        )),
    bad(
        "port is a string", app: web("ports: [\"80:80\"]"),
        (
            "app.yml:5:13", "applications.web.ports[0]",
            "expected a port like {internal: 80, external: 8080}, found the string \"80:80\""
        )),
    bad(
        "internal port eighty", app: web("ports:\n  - internal: eighty\n    external: 80"),
        ("app.yml:6:19", "applications.web.ports[0].internal", "expected an integer from 1 to 65535, found \"eighty\"")),
    bad(
        "external port out of range", app: web("ports: [{internal: 80, external: 70000}]"),
        ("app.yml:5:38", "applications.web.ports[0].external", "expected an integer from 1 to 65535, found 70000")),
    bad(
        "external port zero", app: web("ports: [{internal: 80, external: 0}]"),
        ("app.yml:5:38", "applications.web.ports[0].external", "expected an integer from 1 to 65535, found 0")),
    bad(
        "port quoted", app: web("ports: [{internal: \"80\", external: 80}]"),
        (
            "app.yml:5:24", "applications.web.ports[0].internal",
            "found the string \"80\": write the number without quotes"
        )),
    bad(
        "port missing external", app: web("ports:\n  - internal: 80\n  - {internal: 81, external: 81}"),
        ("app.yml:6:9", "applications.web.ports[0]", "missing required key `external`")),
    bad(
        "port with an extra key", app: web("ports: [{internal: 80, external: 80, protocol: udp}]"),
        (
            "app.yml:5:42", "applications.web.ports[0].protocol",
            "unknown key `protocol` (expected one of `internal`, `external`)"
        )),
    bad(
        "external port collision across applications",
        app:
            "version: 1\napplications:\n  web: {image: a, ports: [{internal: 80, external: 8080}]}\n  api: {image: b, ports: [{internal: 81, external: 8080}]}\n",
        (
            "app.yml:4:52", "applications.api.ports[0].external",
            "external port 8080 is already published by application \"web\" (line 3): every node publishes every external port through the routing mesh"
        )),
    bad(
        "external port collision within an application",
        app: web("ports: [{internal: 80, external: 80}, {internal: 81, external: 80}]"),
        (
            "app.yml:5:68", "applications.web.ports[1].external",
            "external port 80 is already published by this application (line 5)"
        )),
    bad(
        "internal port twice", app: web("ports: [{internal: 80, external: 80}, {internal: 80, external: 81}]"),
        (
            "app.yml:5:54", "applications.web.ports[1].internal",
            "internal port 80 is already published (as external port 80, line 5)"
        )),

    // MARK: volumes
    bad(
        "mountpoint relative", app: web("volume: {mountpoint: data}"),
        (
            "app.yml:5:26", "applications.web.volume.mountpoint",
            "mountpoint \"data\" is not an absolute path (a mountpoint starts with /)"
        )),
    bad(
        "mountpoint with ..", app: web("volume: {mountpoint: /data/../etc}"),
        (
            "app.yml:5:26", "applications.web.volume.mountpoint",
            "mountpoint \"/data/../etc\" contains `..`: write the path it leads to"
        )),
    bad(
        "mountpoint with ..", app: web("volume: {mountpoint: /data/../x}"),
        (
            "app.yml:5:26", "applications.web.volume.mountpoint",
            "mountpoint \"/data/../x\" contains `..`: write the path it leads to"
        )),
    bad(
        "mountpoint /", app: web("volume: {mountpoint: /}"),
        (
            "app.yml:5:26", "applications.web.volume.mountpoint",
            "mountpoint \"/\" is the container's root: a volume cannot be mounted there"
        )),
    bad(
        "mountpoint with a colon", app: web("volume: {mountpoint: \"/data:ro\"}"),
        (
            "app.yml:5:26", "applications.web.volume.mountpoint",
            "mountpoint \"/data:ro\" contains `:`, which Docker's volume syntax uses as a separator"
        )),
    bad(
        "volume missing mountpoint", app: web("volume: {maximum_size: 1G}"),
        ("app.yml:5:13", "applications.web.volume", "missing required key `mountpoint`")),
    bad(
        "maximum_size words", app: web("volume: {mountpoint: /data, maximum_size: lots}"),
        (
            "app.yml:5:47", "applications.web.volume.maximum_size",
            "expected a size in bytes like 1073741824, or with a unit like \"512M\" or \"2.5G\", found \"lots\""
        )),
    bad(
        "maximum_size zero", app: web("volume: {mountpoint: /data, maximum_size: 0}"),
        ("app.yml:5:47", "applications.web.volume.maximum_size", "\"0\" is 0 bytes: the least allowed is 1 byte")),
    bad(
        "maximum_size too large", app: web("volume: {mountpoint: /data, maximum_size: 99999999999T}"),
        ("app.yml:5:47", "applications.web.volume.maximum_size", "\"99999999999T\" is too large")),
    bad(
        "maximum_size unknown unit", app: web("volume: {mountpoint: /data, maximum_size: 5P}"),
        ("app.yml:5:47", "applications.web.volume.maximum_size", "found \"5P\"")),
    bad(
        "volume and volumes", app: web("volume: {mountpoint: /a}\nvolumes: [{name: b, mountpoint: /b}]"),
        ("app.yml:6:5", "applications.web.volumes", "`volume` and `volumes` cannot both be set")),
    bad(
        "volumes: two with one name",
        app: web("volumes:\n  - {name: data, mountpoint: /a}\n  - {name: data, mountpoint: /b}"),
        (
            "app.yml:7:16", "applications.web.volumes[1].name",
            "volume name \"data\" is already used by this application (line 6)"
        )),
    bad(
        "volumes: two at one mountpoint",
        app: web("volumes:\n  - {name: a, mountpoint: /data}\n  - {name: b, mountpoint: /data}"),
        (
            "app.yml:7:31", "applications.web.volumes[1].mountpoint",
            "mountpoint \"/data\" is already used by volume \"a\" (line 6)"
        )),
    bad(
        "volumes: name missing", app: web("volumes: [{mountpoint: /data}]"),
        ("app.yml:5:15", "applications.web.volumes[0]", "missing required key `name`")),

    // MARK: links
    bad(
        "link missing alias",
        app:
            "version: 1\napplications:\n  a: {image: x, ports: [{internal: 1, external: 1}]}\n  b: {image: x, links: [{local_port: 1, remote_port: 1}]}\n",
        ("app.yml:4:25", "applications.b.links[0]", "missing required key `alias`")),
    bad(
        "link remote port nobody publishes",
        app:
            "version: 1\napplications:\n  es: {image: x, ports: [{internal: 9200, external: 9200}]}\n  kibana: {image: x, links: [{local_port: 9200, remote_port: 9300, alias: es}]}\n",
        (
            "app.yml:4:62", "applications.kibana.links[0].remote_port",
            "no application publishes external port 9300: a link's remote_port must be another application's external port (published: 9200 (es))"
        )),
    bad(
        "two links setting the same variables",
        app:
            "version: 1\napplications:\n  a: {image: x, ports: [{internal: 1, external: 1}]}\n  b:\n    image: x\n    links:\n      - {local_port: 1, remote_port: 1, alias: my-db}\n      - {local_port: 1, remote_port: 1, alias: MY_DB}\n",
        (
            "app.yml:8:9", "applications.b.links[1]",
            "this link sets the same environment variables (MY_DB_PORT_1_TCP…) as the link at line 7"
        )),

    // MARK: environment
    bad(
        "environment is a list in v1", app: web("environment: [A=1]"),
        ("app.yml:5:18", "applications.web.environment", "expected a mapping of NAME: value, found a list")),
    bad(
        "environment value is a mapping", app: web("environment:\n  A: {b: c}"),
        ("app.yml:6:10", "applications.web.environment.A", "expected a string value, found a mapping")),
    bad(
        "environment value null", app: web("environment:\n  A:"),
        (
            "app.yml:6:9", "applications.web.environment.A",
            "expected a string value, found nothing: write A: \"\" for an empty value"
        )),
    bad(
        "environment value with a newline", app: web("environment:\n  A: \"line1\\nline2\""),
        (
            "app.yml:6:10", "applications.web.environment.A",
            "the value contains a line break: values are passed to Docker in an env-file, one variable per line"
        )),
    bad(
        "environment value from a literal block", app: web("environment:\n  A: |\n    two\n    lines"),
        ("app.yml:6:10", "applications.web.environment.A", "the value contains a line break")),
    bad(
        "environment value with NUL", app: web("environment:\n  A: \"x\\0y\""),
        ("app.yml:6:10", "applications.web.environment.A", "the value contains a NUL character")),

    // MARK: limits, restart, command
    bad(
        "mem_limit words", app: web("mem_limit: lots"),
        (
            "app.yml:5:16", "applications.web.mem_limit",
            "expected a memory limit in bytes like 1073741824, or with a unit like \"512M\" or \"2.5G\", found \"lots\""
        )),
    bad(
        "mem_limit below Docker's minimum", app: web("mem_limit: 1M"),
        (
            "app.yml:5:16", "applications.web.mem_limit",
            "\"1M\" is 1048576 bytes: the least allowed is 6291456 bytes (6 MiB)"
        )),
    bad(
        "mem_limit negative", app: web("mem_limit: -5"),
        ("app.yml:5:16", "applications.web.mem_limit", "found -5")),
    bad(
        "cpu_shares too small", app: web("cpu_shares: 1"),
        (
            "app.yml:5:17", "applications.web.cpu_shares",
            "expected an integer from 2 to 262144 (1024 is Docker's default weight), found 1"
        )),
    bad(
        "cpu_shares a word", app: web("cpu_shares: half"),
        ("app.yml:5:17", "applications.web.cpu_shares", "found \"half\"")),
    bad(
        "restart_policy unknown name", app: web("restart_policy: {name: sometimes}"),
        (
            "app.yml:5:28", "applications.web.restart_policy.name",
            "expected never, always or on-failure, found \"sometimes\""
        )),
    bad(
        "restart_policy count without on-failure", app: web("restart_policy: {name: always, maximum_retry_count: 3}"),
        (
            "app.yml:5:36", "applications.web.restart_policy.maximum_retry_count",
            "`maximum_retry_count` is only allowed with name: on-failure"
        )),
    bad(
        "restart_policy count zero", app: web("restart_policy: {name: on-failure, maximum_retry_count: 0}"),
        (
            "app.yml:5:61", "applications.web.restart_policy.maximum_retry_count",
            "expected a positive integer (leave it out for no limit), found 0"
        )),
    bad(
        "restart_policy as a string", app: web("restart_policy: always"),
        (
            "app.yml:5:21", "applications.web.restart_policy",
            "expected a mapping like {name: on-failure, maximum_retry_count: 5}, found \"always\""
        )),
    bad(
        "command with an unclosed quote", app: web("command: \"sh -c 'echo hi\""),
        ("app.yml:5:14", "applications.web.command", "the command has an unclosed ' quote")),
    bad(
        "command with a trailing backslash", app: web("command: 'echo \\'"),
        ("app.yml:5:14", "applications.web.command", "the command ends with a backslash that escapes nothing")),
    bad(
        "command empty list", app: web("command: []"),
        (
            "app.yml:5:14", "applications.web.command",
            "expected a command, found an empty list: leave `command` out to run the image's default command"
        )),
    bad(
        "command with a mapping word", app: web("command: [echo, {a: b}]"),
        ("app.yml:5:21", "applications.web.command[1]", "expected a word of the command (a string), found a mapping")),
    bad(
        "command with NUL", app: web("command: [\"a\\0b\"]"),
        ("app.yml:5:15", "applications.web.command[0]", "a command word cannot contain a NUL character")),

    // MARK: Compose
    bad(
        "compose build", app: compose("build: .\nports: [\"80:80\"]"),
        ("app.yml:3:5", "services.web.build", "`build` without `image` is not supported: nodes do not build images; build the image, push it to a registry the nodes can pull from and name it under `image`")),
    bad(
        "compose bind mount ./", app: compose("image: x\nvolumes: [\"./data:/data\"]"),
        (
            "app.yml:4:15", "services.web.volumes[0]",
            "cannot read \"./data\" here: files are read beside the Compose file, which was not read from disk"
        )),
    bad(
        "compose bind mount absolute", app: compose("image: x\nvolumes:\n  - /srv/data:/data"),
        ("app.yml:5:9", "services.web.volumes[0]", "a host directory cannot be mounted")),
    bad(
        "compose bind mount home", app: compose("image: x\nvolumes: [\"~/data:/data\"]"),
        ("app.yml:4:15", "services.web.volumes[0]", "a host directory cannot be mounted")),
    bad(
        "compose bind mount long form",
        app: compose("image: x\nvolumes:\n  - {type: bind, source: /srv, target: /data}"),
        ("app.yml:5:16", "services.web.volumes[0].type", "a host directory cannot be mounted")),
    bad(
        "compose volume mode", app: compose("image: x\nvolumes: [\"d:/data:z\"]", extra: "volumes: {d: }\n"),
        ("app.yml:4:15", "services.web.volumes[0]", "unsupported volume mode \"z\": only rw or ro is allowed")),
    bad(
        "compose host file :ro", app: compose("image: x\nvolumes: [\"./nginx.conf:/etc/nginx/nginx.conf:ro\"]"),
        ("app.yml:4:15", "services.web.volumes[0]", "cannot read \"./nginx.conf\" here: files are read beside the Compose file, which was not read from disk")),
    bad(
        "compose volume not declared", app: compose("image: x\nvolumes: [\"d:/data\"]"),
        (
            "app.yml:4:15", "services.web.volumes[0]",
            "volume \"d\" is not declared: add it to the top-level `volumes:` mapping (d: {})"
        )),
    bad(
        "compose anonymous volume with a bad derived name", app: compose("image: x\nvolumes: [/data.db]"),
        (
            "app.yml:4:15", "services.web.volumes[0]",
            "a volume at \"/data.db\" would be named \"data.db\", which is not a valid volume name"
        )),
    bad(
        "compose volume shared by two services",
        app:
            "services:\n  a:\n    image: x\n    volumes: [\"d:/a\"]\n  b:\n    image: x\n    volumes: [\"d:/b\"]\nvolumes:\n  d:\n",
        (
            "app.yml:7:15", "services.b.volumes[0]",
            "volume \"d\" is already used by service \"a\" (line 4): a managed volume belongs to one application"
        )),
    bad(
        "compose network_mode", app: compose("image: x\nnetwork_mode: host"),
        (
            "app.yml:4:5", "services.web.network_mode",
            "`network_mode` is not supported: a container's network cannot follow it to another node"
        )),
    bad(
        "compose devices", app: compose("image: x\ndevices: [\"/dev/ttyUSB0:/dev/ttyUSB0\"]"),
        ("app.yml:4:5", "services.web.devices", "`devices` is not supported: host devices are those of one node")),
    bad(
        "compose top-level volume driver",
        app: compose("image: x", extra: "volumes:\n  d:\n    driver: local\n    driver_opts: {type: nfs}\n"),
        ("app.yml:6:5", "volumes.d.driver", "volume option `driver` is not supported"),
        ("app.yml:7:5", "volumes.d.driver_opts", "volume option `driver_opts` is not supported")),
    bad(
        "compose depends_on an unknown service", app: compose("image: x\ndepends_on: [db]"),
        ("app.yml:4:18", "services.web.depends_on[0]", "unknown service \"db\"")),
    bad(
        "compose healthcheck with a bad test", app: compose("image: x\nhealthcheck: {test: [RUN, true]}"),
        (
            "app.yml:4:25", "services.web.healthcheck.test",
            "expected [\"CMD\", \"program\", args…], [\"CMD-SHELL\", \"command\"] or [\"NONE\"], found a list"
        )),
    bad(
        "compose healthcheck with a bad interval", app: compose("image: x\nhealthcheck: {test: true, interval: 10}"),
        ("app.yml:4:41", "services.web.healthcheck.interval", "expected a duration like \"30s\", \"1m30s\" or \"500ms\", found 10")),
    bad(
        "compose stop_grace_period", app: compose("image: x\nstop_grace_period: soon"),
        ("app.yml:4:24", "services.web.stop_grace_period", "expected a duration like \"30s\"")),
    bad(
        "compose flocker label", app: compose("image: x\nlabels: {flocker.app: other}"),
        ("app.yml:4:14", "services.web.labels.flocker.app", "labels starting `flocker.` are flocker-deploy's own")),
    bad(
        "compose env_file without a folder", app: compose("image: x\nenv_file: .env"),
        ("app.yml:4:15", "services.web.env_file", "cannot read \".env\" here")
    ),
    bad(
        "compose privileged", app: compose("image: x\nprivileged: true"),
        ("app.yml:4:5", "services.web.privileged", "`privileged` is not supported")),
    bad(
        "compose unknown key", app: compose("image: x\nenviroment: {A: b}"),
        ("app.yml:4:5", "services.web.enviroment", "unknown key `enviroment`: did you mean `environment`?")),
    bad(
        "compose restart_policy written Flocker-style", app: compose("image: x\nrestart_policy: {name: always}"),
        ("app.yml:4:5", "services.web.restart_policy", "unknown key `restart_policy`: did you mean `restart`?")),
    bad(
        "compose env list without value", app: compose("image: x\nenvironment:\n  - SECRET"),
        (
            "app.yml:5:9", "services.web.environment[0]",
            "SECRET has no value: Compose would take it from the environment of the machine running it, flocker-deploy needs it written here, as \"SECRET=value\""
        )),
    bad(
        "compose env mapping null value", app: compose("image: x\nenvironment:\n  SECRET:"),
        ("app.yml:5:14", "services.web.environment.SECRET", "SECRET has no value")),
    bad(
        "compose env list duplicate", app: compose("image: x\nenvironment: [A=1, A=2]"),
        ("app.yml:4:24", "services.web.environment[1]", "A is already set (line 4)")),
    bad(
        "compose env value with a newline", app: compose("image: x\nenvironment: [\"A=x\\ny\"]"),
        ("app.yml:4:19", "services.web.environment[0]", "the value contains a line break")),
    bad(
        "compose port container only", app: compose("image: x\nports: [\"80\"]"),
        ("app.yml:4:13", "services.web.ports[0]", "a container port alone is not enough: write \"HOST:80\"")),
    bad(
        "compose port sctp", app: compose("image: x\nports: [\"53:53/sctp\"]"),
        ("app.yml:4:13", "services.web.ports[0]", "unsupported protocol \"sctp\": tcp and udp are supported")),
    bad(
        "compose port bound to one address", app: compose("image: x\nports: [\"127.0.0.1:8080:80\"]"),
        (
            "app.yml:4:13", "services.web.ports[0]",
            "publishing on \"127.0.0.1\" only is not supported: the routing mesh publishes every external port on every node, on all addresses; write \"8080:80\""
        )),
    bad(
        "compose port ranges of different lengths", app: compose("image: x\nports: [\"8000-8002:80-81\"]"),
        ("app.yml:4:13", "services.web.ports[0]", "differ in length (3 and 2)")),
    bad(
        "compose port out of range", app: compose("image: x\nports: [\"99999:80\"]"),
        ("app.yml:4:13", "services.web.ports[0]", "expected a port from 1 to 65535, found \"99999\"")),
    bad(
        "compose long port without published", app: compose("image: x\nports:\n  - target: 80"),
        ("app.yml:5:9", "services.web.ports[0]", "missing required key `published`")),
    bad(
        "compose long port host_ip", app: compose("image: x\nports: [{target: 80, published: 80, host_ip: 10.0.0.1}]"),
        ("app.yml:4:50", "services.web.ports[0].host_ip", "publishing on \"10.0.0.1\" only is not supported")),
    bad(
        "compose port collision",
        app: "services:\n  a: {image: x, ports: [\"80:80\"]}\n  b: {image: x, ports: [\"81-82:81-82\", \"80:8080\"]}\n",
        ("app.yml:3:40", "services.b.ports[1]", "external port 80 is already published by application \"a\" (line 2)")),
    bad(
        "compose restart unknown", app: compose("image: x\nrestart: sometimes"),
        (
            "app.yml:4:14", "services.web.restart",
            "expected \"no\", \"always\", \"on-failure\", \"on-failure:N\" or \"unless-stopped\", found \"sometimes\""
        )),
    bad(
        "compose restart bad count", app: compose("image: x\nrestart: on-failure:x"),
        (
            "app.yml:4:14", "services.web.restart",
            "expected a positive retry count after \"on-failure:\", found \"on-failure:x\""
        )),
    bad(
        "compose mem_limit bad unit", app: compose("image: x\nmem_limit: 1z"),
        ("app.yml:4:16", "services.web.mem_limit", "found \"1z\"")),
    bad(
        "compose link to an unknown service",
        app: compose("image: x\nlinks: [rediss]", extra: "  redis: {image: redis, ports: [\"6379:6379\"]}\n"),
        ("app.yml:4:13", "services.web.links[0]", "unknown service \"rediss\": did you mean \"redis\"?")),
    bad(
        "compose link alias with a dot",
        app: compose("image: x\nlinks: [db.v2]", extra: "  db.v2: {image: postgres, ports: [\"5432:5432\"]}\n"),
        ("app.yml:4:13", "services.web.links[0]", "the service name \"db.v2\" cannot be used as a link alias")),
    bad(
        "compose service name with $()", app: "services:\n  \"$(reboot)\": {image: x}\n",
        ("app.yml:2:3", "services[\"$(reboot)\"]", "service name \"$(reboot)\" is not allowed")),
    bad(
        "compose top-level service next to services:", app: "services:\n  web: {image: x}\ndb:\n  image: postgres\n",
        ("app.yml:3:1", "db", "unknown top-level key `db`: services go under `services:`")),

    // MARK: deployment file
    bad(
        "deployment version missing", app: twoApps, deployment: "nodes: {node1: [web]}\n",
        ("dep.yml:1:1", "", "missing required key `version`")),
    bad(
        "deployment version quoted", app: twoApps, deployment: "version: '1'\nnodes: {node1: [web]}\n",
        ("dep.yml:1:10", "version", "found the string \"1\"")),
    bad(
        "deployment nodes missing", app: twoApps, deployment: "version: 1\n",
        ("dep.yml:1:1", "", "missing required key `nodes`")),
    bad(
        "deployment nodes is a list", app: twoApps, deployment: "version: 1\nnodes: [node1]\n",
        (
            "dep.yml:2:8", "nodes",
            "expected a mapping of node → list of application names, like node1: [web], found a list"
        )),
    bad(
        "deployment node value null", app: twoApps, deployment: "version: 1\nnodes:\n  node1:\n",
        (
            "dep.yml:3:9", "nodes.node1",
            "expected a list of application names, found nothing: write [] for a node that runs nothing"
        )),
    bad(
        "deployment node value a string", app: twoApps, deployment: "version: 1\nnodes:\n  node1: web\n",
        (
            "dep.yml:3:10", "nodes.node1",
            "expected a list of application names, found \"web\": write [web], or [] for a node that runs nothing"
        )),
    bad(
        "deployment unknown application", app: twoApps, deployment: "version: 1\nnodes:\n  node1: [wbe]\n",
        ("dep.yml:3:11", "nodes.node1[0]", "unknown application \"wbe\": did you mean \"web\"?")),
    bad(
        "deployment unknown application, nothing near", app: twoApps,
        deployment: "version: 1\nnodes:\n  node1: [postgres]\n",
        (
            "dep.yml:3:11", "nodes.node1[0]",
            "unknown application \"postgres\": the application file defines \"web\", \"redis\""
        )),
    bad(
        "deployment application on two nodes", app: twoApps,
        deployment: "version: 1\nnodes:\n  node1: [web]\n  node2: [redis, web]\n",
        (
            "dep.yml:4:18", "nodes.node2[1]",
            "application \"web\" is already placed on node \"node1\" (line 3): an application runs on exactly one node"
        )),
    bad(
        "deployment application twice on one node", app: twoApps,
        deployment: "version: 1\nnodes:\n  node1: [web, web]\n",
        ("dep.yml:3:16", "nodes.node1[1]", "application \"web\" is already listed on this node (line 3)")),
    bad(
        "deployment nodes differing in case", app: twoApps,
        deployment: "version: 1\nnodes:\n  node1: [web]\n  NODE1: []\n",
        (
            "dep.yml:4:3", "nodes.NODE1",
            "node \"NODE1\" is the same host as node \"node1\" (line 3): host names are not case-sensitive"
        )),
    bad(
        "deployment node name with ;", app: twoApps, deployment: "version: 1\nnodes:\n  \"node1; reboot\": []\n",
        (
            "dep.yml:3:3", "nodes[\"node1; reboot\"]",
            "node name \"node1; reboot\" is not allowed: a node is an IP address, a hostname or an ssh_config alias, matching ^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$"
        )),
    bad(
        "deployment node name that ssh would read as an option", app: twoApps,
        deployment: "version: 1\nnodes:\n  -oProxyCommand=reboot: []\n",
        ("dep.yml:3:3", "nodes[\"-oProxyCommand=reboot\"]", "node name \"-oProxyCommand=reboot\" is not allowed")),
    bad(
        "deployment node name user@host", app: twoApps, deployment: "version: 1\nnodes:\n  root@node1: []\n",
        ("dep.yml:3:3", "nodes[\"root@node1\"]", "is not allowed")),
    bad(
        "deployment node name too long", app: twoApps,
        deployment: "version: 1\nnodes:\n  \(String(repeating: "n", count: 254)): []\n",
        ("dep.yml:3:3", "nodes[\"\(String(repeating: "n", count: 80))…\"]", "and be at most 253 characters long")),
    bad(
        "deployment unknown top-level key", app: twoApps, deployment: "version: 1\nnode: {}\nnodes: {}\n",
        ("dep.yml:2:1", "node", "unknown key `node`: did you mean `nodes`?")),
    bad(
        "deployment list item is a mapping", app: twoApps, deployment: "version: 1\nnodes:\n  node1: [{web: 1}]\n",
        ("dep.yml:3:11", "nodes.node1[0]", "expected an application name, found a mapping")),

    bad(
        "files given in the wrong order", app: "version: 1\nnodes:\n  node1: [web]\n", deployment: twoApps,
        ("dep.yml:1:1", "", "missing required key `nodes`"),
        (
            "dep.yml:2:1", "applications",
            "this looks like an application file: the deployment file (with `nodes:`) comes first, then the application file"
        ),
        (
            "app.yml:1:1", "",
            "this looks like a deployment file: the deployment file comes first, then the application file"
        )),

    // MARK: YAML-level errors come through as they are
    bad(
        "YAML duplicate key", app: twoApps, deployment: "version: 1\nnodes: {}\nnodes: {}\n",
        ("dep.yml:3:1", "", "duplicate key \"nodes\"")),
    bad(
        "YAML syntax error", app: "version: 1\napplications: {web: [\n", deployment: emptyDeployment,
        ("app.yml:3:1", "", "did not find expected node content (while parsing a flow node at 3:1)")),
    bad(
        "YAML empty file", app: "", deployment: emptyDeployment,
        ("app.yml:1:1", "", "empty document")),
]

@Suite("Manifest: malformed manifests")
struct ManifestErrorTests {
    @Test(
        "Each malformed manifest gives exactly its errors, at the right line:column and key path",
        arguments: manifestBadCases)
    func malformed(_ c: ManifestBadCase) {
        let errors = decodeErrors(app: c.app, deployment: c.deployment)
        #expect(errors.count == c.expected.count, "got:\n\(errors.map(\.description).joined(separator: "\n"))")
        for (error, expected) in zip(errors, c.expected) {
            let location = "\(error.file):\(error.line):\(error.column)"
            #expect(location.hasPrefix(expected.location), "\(error)")
            #expect(error.path == expected.path, "\(error)")
            #expect(error.message.contains(expected.fragment), "\(error)")
            #expect(error.line >= 1 && error.column >= 1 && !error.message.isEmpty)
        }
    }

    @Test(
        "User text in messages is quoted: an error is always one line, without control characters",
        arguments: [
            compose("image: x\nports: [\"1.2.3.4:8\\n0:80\\u001b[2J\"]"),
            compose("image: x\nports: [\"8\\n0\"]"),
            compose("image: x\nenvironment:\n  \"A\\nB\":"),
            compose("image: x\nenvironment: [\"A\\nB=1\", \"A\\nB=2\"]"),
            compose("image: x\nlinks: [\"a\\nb\"]"),
            compose("image: x\nlinks: [\"a.b\\n\"]", extra: "  \"a.b\\n\": {image: y, ports: [\"1:1\"]}\n"),
            compose("image: x\nvolumes: [\"./a:/x\\ny\"]"),
            compose("image: x\nvolumes: [{type: \"bi\\nd\", target: /x}]"),
            v1("image: x\nenvironment:\n  \"A\\nB\":"),
            v1("image: \"re\\ndis\"\ncommand: \"a '\\n\""),
            "version: 1\napplications:\n  \"web\\n\": {image: x}\n",
            "version: 1\napplications:\n  \"a\\tb\": {image: x, ports: [{internal: 1, external: 1}]}\n"
                + "  c: {image: x, links: [{local_port: 1, remote_port: 2, alias: a}]}\n",
        ])
    func oneLine(_ app: String) {
        let errors = decodeErrors(app: app, deployment: "version: 1\nnodes:\n  \"n\\n\": [\"w\\n\"]\n")
        #expect(!errors.isEmpty)
        for error in errors {
            #expect(
                !error.description.unicodeScalars.contains { $0.value < 0x20 }, "\(error.description.debugDescription)")
        }
    }

    @Test("There are at least 60 malformed cases")
    func enough() {
        #expect(manifestBadCases.count >= 60)
    }

    @Test("Descriptions are FILE:LINE:COL: error: PATH: MESSAGE, without PATH: for the document")
    func descriptionFormat() {
        let withPath = ManifestError(file: "a.yml", line: 3, column: 7, path: "applications.web.image", message: "bad")
        #expect(withPath.description == "a.yml:3:7: error: applications.web.image: bad")
        let document = ManifestError(file: "a.yml", line: 1, column: 1, path: "", message: "bad")
        #expect(document.description == "a.yml:1:1: error: bad")
        let unreadable = ManifestError(
            file: "a.yml", line: 0, column: 0, path: "", message: "cannot read the file: No such file or directory")
        #expect(unreadable.description == "a.yml: error: cannot read the file: No such file or directory")
        #expect(ManifestErrors(errors: [withPath, document]).description == "\(withPath)\n\(document)\n2 errors")
        #expect(ManifestErrors.countLine(1) == "1 error")
    }

    @Test("load reports unreadable files without a position, both at once")
    func unreadable() {
        do {
            _ = try Manifests.load(deployment: "/nonexistent/dep.yml", application: "/nonexistent/app.yml")
            Issue.record("expected errors")
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    "/nonexistent/dep.yml: error: cannot read the file: No such file or directory",
                    "/nonexistent/app.yml: error: cannot read the file: No such file or directory",
                ])
        }
    }
}
