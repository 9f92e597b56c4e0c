extension String {
    /// The string without leading and trailing characters from `set` (addresses in headers and lists).
    func stripping(_ set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
