import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// A reader for the block-style YAML subset openapi.yaml is written in (two-space indentation, `- ` lists,
/// one-line flow collections, quoted and plain scalars, `>`/`|` block scalars, comments). No YAML package is
/// in the dependency set; openapi-spec-validator checks the document as real YAML in scripts/fuzz.
enum MiniYAML {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    private struct Line {
        var indent: Int
        var text: String
        let number: Int
    }

    static func parse(_ text: String) throws -> JSONValue {
        var lines: [Line] = []
        var raw = text.components(separatedBy: "\n")
        var i = 0
        while i < raw.count {
            let line = raw[i]
            let content = stripComment(line)
            let trimmed = content.trimmingCharacters(in: .whitespaces)
            defer { i += 1 }
            if trimmed.isEmpty { continue }
            let indent = content.prefix { $0 == " " }.count
            // A block scalar: gather the more-indented lines that follow, blank ones included.
            if let marker = blockScalarMarker(trimmed) {
                var body: [String] = []
                var j = i + 1
                while j < raw.count, raw[j].trimmingCharacters(in: .whitespaces).isEmpty || raw[j].prefix(while: { $0 == " " }).count > indent {
                    body.append(raw[j])
                    j += 1
                }
                while body.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { body.removeLast() }
                let bodyIndent = body.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
                let stripped = body.map { $0.count >= bodyIndent ? String($0.dropFirst(bodyIndent)) : "" }
                let value: String
                if marker.folded {
                    var paragraphs: [String] = []
                    var current: [String] = []
                    for l in stripped {
                        if l.isEmpty {
                            paragraphs.append(current.joined(separator: " "))
                            current = []
                        } else {
                            current.append(l)
                        }
                    }
                    paragraphs.append(current.joined(separator: " "))
                    value = paragraphs.joined(separator: "\n")
                } else {
                    value = stripped.joined(separator: "\n")
                }
                let quoted = "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
                lines.append(Line(indent: indent, text: String(trimmed.dropLast(marker.length)) + quoted, number: i + 1))
                raw.replaceSubrange((i + 1)..<j, with: Array(repeating: "", count: j - i - 1))
                continue
            }
            lines.append(Line(indent: indent, text: trimmed, number: i + 1))
        }
        var index = 0
        let value = try node(&lines, &index, indent: lines.first?.indent ?? 0)
        guard index == lines.count else { throw ParseError(description: "line \(lines[index].number): unexpected indentation") }
        return value
    }

    private static func blockScalarMarker(_ line: String) -> (folded: Bool, length: Int)? {
        for marker in [">-", "|-", ">", "|"] where line.hasSuffix(": " + marker) || line == "- " + marker {
            return (marker.hasPrefix(">"), marker.count)
        }
        return nil
    }

    /// Removes a `#` comment that is not inside quotes.
    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, c) in line.enumerated() {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "#", previous == " " {
                return String(line.prefix(offset))
            }
            previous = c
        }
        return line
    }

    private static func node(_ lines: inout [Line], _ index: inout Int, indent: Int) throws -> JSONValue {
        guard index < lines.count else { return .null }
        return lines[index].text.hasPrefix("- ") || lines[index].text == "-"
            ? try sequence(&lines, &index, indent: indent) : try mapping(&lines, &index, indent: indent)
    }

    private static func sequence(_ lines: inout [Line], _ index: inout Int, indent: Int) throws -> JSONValue {
        var items: [JSONValue] = []
        while index < lines.count, lines[index].indent == indent, lines[index].text.hasPrefix("- ") || lines[index].text == "-" {
            let rest = String(lines[index].text.dropFirst(2))
            if rest.isEmpty {
                index += 1
                items.append(index < lines.count && lines[index].indent > indent ? try node(&lines, &index, indent: lines[index].indent) : .null)
            } else if splitKey(rest) != nil, !rest.hasPrefix("{"), !rest.hasPrefix("[") {
                // `- key: value` starts a mapping whose keys sit two columns in.
                lines[index] = Line(indent: indent + 2, text: rest, number: lines[index].number)
                items.append(try mapping(&lines, &index, indent: indent + 2))
            } else {
                items.append(try inline(rest, line: lines[index].number))
                index += 1
            }
        }
        return .array(items)
    }

    private static func mapping(_ lines: inout [Line], _ index: inout Int, indent: Int) throws -> JSONValue {
        var object: [String: JSONValue] = [:]
        while index < lines.count, lines[index].indent == indent {
            let line = lines[index]
            guard let (key, rest) = splitKey(line.text) else { throw ParseError(description: "line \(line.number): expected `key: value`") }
            guard object[key] == nil else { throw ParseError(description: "line \(line.number): duplicate key \(key)") }
            index += 1
            if rest.isEmpty {
                if index < lines.count, lines[index].indent > indent {
                    object[key] = try node(&lines, &index, indent: lines[index].indent)
                } else if index < lines.count, lines[index].indent == indent, lines[index].text.hasPrefix("- ") {
                    object[key] = try sequence(&lines, &index, indent: indent)
                } else {
                    object[key] = .null
                }
            } else {
                object[key] = try inline(rest, line: line.number)
            }
        }
        if index < lines.count, lines[index].indent > indent {
            throw ParseError(description: "line \(lines[index].number): unexpected indentation")
        }
        return .object(object)
    }

    /// `key: rest` or `key:`, with a plain or quoted key; nil when the line is not a mapping entry.
    private static func splitKey(_ text: String) -> (String, String)? {
        var scanner = Scanner(Array(text))
        let key: String
        if let q = scanner.peek, q == "'" || q == "\"" {
            guard let quoted = try? scanner.quoted() else { return nil }
            key = quoted
            guard scanner.peek == ":" else { return nil }
        } else {
            var chars: [Character] = []
            while let c = scanner.peek, !(c == ":" && (scanner.peek(1) == nil || scanner.peek(1) == " ")) {
                chars.append(c)
                scanner.advance()
            }
            guard scanner.peek == ":" else { return nil }
            key = String(chars).trimmingCharacters(in: .whitespaces)
        }
        scanner.advance()
        return (key, String(scanner.rest).trimmingCharacters(in: .whitespaces))
    }

    private static func inline(_ text: String, line: Int) throws -> JSONValue {
        var scanner = Scanner(Array(text))
        do {
            let value = try scanner.value(flow: false)
            scanner.skipSpaces()
            guard scanner.atEnd else { throw ParseError(description: "trailing characters") }
            return value
        } catch let error as ParseError {
            throw ParseError(description: "line \(line): \(error.description) in `\(text)`")
        }
    }

    private struct Scanner {
        let chars: [Character]
        var position = 0
        init(_ chars: [Character]) { self.chars = chars }

        var atEnd: Bool { position >= chars.count }
        var peek: Character? { peek(0) }
        func peek(_ offset: Int) -> Character? { position + offset < chars.count ? chars[position + offset] : nil }
        var rest: ArraySlice<Character> { chars[min(position, chars.count)...] }
        mutating func advance() { position += 1 }
        mutating func skipSpaces() { while peek == " " { advance() } }

        mutating func expect(_ c: Character) throws {
            skipSpaces()
            guard peek == c else { throw ParseError(description: "expected \(c)") }
            advance()
        }

        mutating func value(flow: Bool) throws -> JSONValue {
            skipSpaces()
            switch peek {
            case "{"?:
                advance()
                var object: [String: JSONValue] = [:]
                skipSpaces()
                if peek == "}" {
                    advance()
                    return .object(object)
                }
                while true {
                    skipSpaces()
                    let key: String
                    if peek == "'" || peek == "\"" {
                        key = try quoted()
                    } else {
                        var k: [Character] = []
                        while let c = peek, c != ":" {
                            k.append(c)
                            advance()
                        }
                        key = String(k).trimmingCharacters(in: .whitespaces)
                    }
                    try expect(":")
                    object[key] = try value(flow: true)
                    skipSpaces()
                    if peek == "," {
                        advance()
                        continue
                    }
                    try expect("}")
                    return .object(object)
                }
            case "["?:
                advance()
                var items: [JSONValue] = []
                skipSpaces()
                if peek == "]" {
                    advance()
                    return .array(items)
                }
                while true {
                    items.append(try value(flow: true))
                    skipSpaces()
                    if peek == "," {
                        advance()
                        continue
                    }
                    try expect("]")
                    return .array(items)
                }
            case "'"?, "\""?:
                return .string(try quoted())
            default:
                var text: [Character] = []
                while let c = peek, !(flow && (c == "," || c == "]" || c == "}")) {
                    text.append(c)
                    advance()
                }
                return Self.scalar(String(text).trimmingCharacters(in: .whitespaces))
            }
        }

        mutating func quoted() throws -> String {
            let q = peek!
            advance()
            var out = ""
            while let c = peek {
                advance()
                if c == q {
                    if q == "'", peek == "'" {
                        out.append("'")
                        advance()
                        continue
                    }
                    return out
                }
                if q == "\"", c == "\\", let e = peek {
                    advance()
                    switch e {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    default: out.append(e)
                    }
                    continue
                }
                out.append(c)
            }
            throw ParseError(description: "unterminated string")
        }

        static func scalar(_ s: String) -> JSONValue {
            switch s {
            case "null", "~", "": return .null
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: return Int64(s).map(JSONValue.int) ?? .string(s)
            }
        }
    }
}
