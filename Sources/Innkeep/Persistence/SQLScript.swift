import Foundation

/// Splits a SQL file into statements, since PostgresNIO's extended protocol runs one at a time.
/// Semicolons inside quotes, dollar-quoted bodies and comments do not split.
public enum SQLScript {
    public static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current: [Character] = []
        let chars = Array(sql)
        var i = 0
        func flush() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if !strippedOfComments(text).isEmpty { statements.append(text) }
            current.removeAll()
        }
        while i < chars.count {
            let c = chars[i]
            if c == "-", i + 1 < chars.count, chars[i + 1] == "-" {
                while i < chars.count, chars[i] != "\n" { current.append(chars[i]); i += 1 }
                continue
            }
            if c == "/", i + 1 < chars.count, chars[i + 1] == "*" {
                let end = find(["*", "/"], in: chars, from: i + 2) ?? chars.count
                current.append(contentsOf: chars[i..<min(end + 2, chars.count)]); i = end + 2
                continue
            }
            if c == "'" || c == "\"" {
                var j = i + 1
                while j < chars.count { if chars[j] == c { if j + 1 < chars.count, chars[j + 1] == c { j += 2; continue }; break }; j += 1 }
                current.append(contentsOf: chars[i..<min(j + 1, chars.count)]); i = j + 1
                continue
            }
            if c == "$", let tagEnd = dollarTagEnd(chars, i) {
                let tag = Array(chars[i...tagEnd])
                let close = find(tag, in: chars, from: tagEnd + 1) ?? chars.count
                let end = min(close + tag.count, chars.count)
                current.append(contentsOf: chars[i..<end]); i = end
                continue
            }
            if c == ";" { flush(); i += 1; continue }
            current.append(c); i += 1
        }
        flush()
        return statements
    }

    /// `$$` or `$tag$` starting at i: the index of its closing `$`.
    private static func dollarTagEnd(_ chars: [Character], _ i: Int) -> Int? {
        var j = i + 1
        while j < chars.count, chars[j].isLetter || chars[j] == "_" || (j > i + 1 && chars[j].isNumber) { j += 1 }
        return j < chars.count && chars[j] == "$" ? j : nil
    }

    private static func find(_ needle: [Character], in chars: [Character], from start: Int) -> Int? {
        guard needle.count <= chars.count else { return nil }
        var i = start
        while i + needle.count <= chars.count {
            if Array(chars[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }

    private static func strippedOfComments(_ text: String) -> String {
        text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined()
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
