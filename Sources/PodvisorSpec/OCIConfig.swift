/// The OCI runtime-spec `config.json` (v1.0–v1.2). Optional properties are omitted when nil,
/// so encoding gives clean output; unknown keys are ignored when decoding.
public struct OCIConfig: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var process: OCIProcess?
    public var root: OCIRoot?
    public var hostname: String?
    public var domainname: String?
    public var mounts: [OCIMount]?
    public var hooks: OCIHooks?
    public var annotations: [String: String]?
    public var linux: OCILinux?

    public init(ociVersion: String = OCIConfig.specVersion, process: OCIProcess? = nil, root: OCIRoot? = nil,
                hostname: String? = nil, domainname: String? = nil, mounts: [OCIMount]? = nil,
                hooks: OCIHooks? = nil, annotations: [String: String]? = nil, linux: OCILinux? = nil) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
    }

    /// The runtime-spec version this module writes.
    public static let specVersion = "1.2.0"
}

public struct OCIRoot: Codable, Sendable, Equatable {
    /// Relative to the bundle, or absolute.
    public var path: String
    public var readonly: Bool?

    public init(path: String, readonly: Bool? = nil) {
        self.path = path
        self.readonly = readonly
    }
}

public struct OCIMount: Codable, Sendable, Equatable {
    public var destination: String
    public var type: String?
    public var source: String?
    public var options: [String]?
    public var uidMappings: [OCILinux.IDMapping]?
    public var gidMappings: [OCILinux.IDMapping]?

    public init(destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil,
                uidMappings: [OCILinux.IDMapping]? = nil, gidMappings: [OCILinux.IDMapping]? = nil) {
        self.destination = destination
        self.type = type
        self.source = source
        self.options = options
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
    }
}

public struct OCIHooks: Codable, Sendable, Equatable {
    /// Deprecated in the spec in favour of createRuntime, still run by runc.
    public var prestart: [OCIHook]?
    public var createRuntime: [OCIHook]?
    public var createContainer: [OCIHook]?
    public var startContainer: [OCIHook]?
    public var poststart: [OCIHook]?
    public var poststop: [OCIHook]?

    public init(prestart: [OCIHook]? = nil, createRuntime: [OCIHook]? = nil, createContainer: [OCIHook]? = nil,
                startContainer: [OCIHook]? = nil, poststart: [OCIHook]? = nil, poststop: [OCIHook]? = nil) {
        self.prestart = prestart
        self.createRuntime = createRuntime
        self.createContainer = createContainer
        self.startContainer = startContainer
        self.poststart = poststart
        self.poststop = poststop
    }

    /// Each hook list with its JSON key, in spec order (for validation and error messages).
    public var all: [(name: String, hooks: [OCIHook])] {
        [("prestart", prestart), ("createRuntime", createRuntime), ("createContainer", createContainer),
         ("startContainer", startContainer), ("poststart", poststart), ("poststop", poststop)]
            .compactMap { name, list in list.map { (name, $0) } }
    }
}

public struct OCIHook: Codable, Sendable, Equatable {
    public var path: String
    public var args: [String]?
    public var env: [String]?
    /// Seconds; must be > 0 when set.
    public var timeout: Int?

    public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }
}
