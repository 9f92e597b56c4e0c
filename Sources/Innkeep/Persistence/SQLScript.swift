import Foundation

/// Splits a SQL file into statements, since PostgresNIO's extended protocol runs one at a time.
/// Semicolons inside quotes (including E'…' escapes), dollar-quoted bodies and comments (including
/// nested block comments) do not split; a chunk that is only comments is not a statement.
public enum SQLScript {
    public static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current: [Character] = []
        var hasCode = false
        let chars = Array(sql)
        var i = 0
        func flush() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if hasCode { statements.append(text) }
            current.removeAll()
            hasCode = false
        }
        func isIdentifierChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "$" }
        while i < chars.count {
            let c = chars[i]
            if c == "-", i + 1 < chars.count, chars[i + 1] == "-" {
                while i < chars.count, chars[i] != "\n" {
                    current.append(chars[i])
                    i += 1
                }
                continue
            }
            if c == "/", i + 1 < chars.count, chars[i + 1] == "*" {
                // Block comments nest in PostgreSQL.
                var depth = 0
                var j = i
                repeat {
                    if j + 1 < chars.count, chars[j] == "/", chars[j + 1] == "*" {
                        depth += 1
                        j += 2
                    } else if j + 1 < chars.count, chars[j] == "*", chars[j + 1] == "/" {
                        depth -= 1
                        j += 2
                    } else {
                        j += 1
                    }
                } while depth > 0 && j < chars.count
                current.append(contentsOf: chars[i..<min(j, chars.count)])
                i = j
                continue
            }
            if c == "'" || c == "\"" {
                // E'…' strings also escape with a backslash.
                let escapes = c == "'" && i > 0 && (chars[i - 1] == "E" || chars[i - 1] == "e") && (i < 2 || !isIdentifierChar(chars[i - 2]))
                var j = i + 1
                while j < chars.count {
                    if escapes, chars[j] == "\\" {
                        j += 2
                        continue
                    }
                    if chars[j] == c {
                        if j + 1 < chars.count, chars[j + 1] == c {
                            j += 2
                            continue
                        }
                        break
                    }
                    j += 1
                }
                current.append(contentsOf: chars[i..<min(j + 1, chars.count)])
                i = j + 1
                hasCode = true
                continue
            }
            // `$` inside an identifier (a$b) does not start a dollar quote.
            if c == "$", i == 0 || !isIdentifierChar(chars[i - 1]), let tagEnd = dollarTagEnd(chars, i) {
                let tag = Array(chars[i...tagEnd])
                let close = find(tag, in: chars, from: tagEnd + 1) ?? chars.count
                let end = min(close + tag.count, chars.count)
                current.append(contentsOf: chars[i..<end])
                i = end
                hasCode = true
                continue
            }
            if c == ";" {
                flush()
                i += 1
                continue
            }
            if !c.isWhitespace { hasCode = true }
            current.append(c)
            i += 1
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
}
