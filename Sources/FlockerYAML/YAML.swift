internal import CYAML

/// Version of the system libyaml this module was linked against.
public enum YAMLLibrary {
    public static var version: String { String(cString: yaml_get_version_string()) }
}
