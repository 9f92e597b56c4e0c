import Foundation
import Testing

@testable import Innkeep

extension Unit {
    /// Keyset cursors (HTTP/Pagination.swift): opaque base64url of `micros:id`; anything the API did not issue
    /// (garbage, padding, tampering, a time outside years 1-9999) decodes to nil, which lists answer as a 422.
    @Suite struct PageCursorTests {
        @Test func aCursorRoundTripsToTheMicrosecond() throws {
            let id = UUID()
            let createdAt = Date(timeIntervalSince1970: 1_900_000_000.123456)
            let cursor = PageCursor(createdAt: createdAt, id: id)
            #expect(cursor.micros == 1_900_000_000_123_456)
            let decoded = try #require(PageCursor(encoded: cursor.encoded))
            #expect(decoded == cursor)
            #expect(!cursor.encoded.contains("=") && !cursor.encoded.contains("+") && !cursor.encoded.contains("/"))
            #expect(
                Base64URL.decode(Substring(cursor.encoded)).map { String(decoding: $0, as: UTF8.self) }
                    == "1900000000123456:\(id.uuidString.lowercased())"
            )
            let old = PageCursor(createdAt: Date(timeIntervalSince1970: -86_400.5), id: id)
            #expect(PageCursor(encoded: old.encoded) == old)
            #expect(old.micros == -86_400_500_000)
        }

        @Test(arguments: [
            "", "!!!!", "abc", "a", "YWJj=", "MTox",  // "1:1": not a UUID
            Base64URL.encode(Array("12345".utf8)),  // no id
            Base64URL.encode(Array("x:\(UUID().uuidString)".utf8)),  // not a number
            Base64URL.encode(Array("1:\(UUID().uuidString):2".utf8)),  // three parts
            Base64URL.encode(Array("+1:\(UUID().uuidString)".utf8)) + "=",  // padding
            Base64URL.encode(Array("253402300800000000:\(UUID().uuidString)".utf8)),  // year 10000
            Base64URL.encode(Array("-62135596800000001:\(UUID().uuidString)".utf8)),  // before year 1
            Base64URL.encode(Array("9223372036854775807:\(UUID().uuidString)".utf8)),
            Base64URL.encode(Array("99999999999999999999:\(UUID().uuidString)".utf8)),  // overflows Int64
            String(repeating: "A", count: 204),  // longer than any cursor the API issues
        ])
        func garbageIsNotACursor(_ text: String) {
            #expect(PageCursor(encoded: text) == nil, "\(text)")
        }

        @Test func theEdgesOfYearsOneTo9999AreCursors() {
            let id = UUID()
            for micros in [PageCursor.range.lowerBound, 0, PageCursor.range.upperBound] {
                let text = Base64URL.encode(Array("\(micros):\(id.uuidString.lowercased())".utf8))
                #expect(PageCursor(encoded: text)?.micros == micros)
            }
        }

        /// Changing any one character of a cursor never yields the same position, and never crashes.
        @Test func aTamperedCursorIsRefusedOrAnotherPosition() {
            let cursor = PageCursor(createdAt: Date(timeIntervalSince1970: 1_800_000_000), id: UUID())
            let text = Array(cursor.encoded)
            var refused = 0
            for i in text.indices {
                for replacement in ["A", "z", "-", "_", "=", "."] where String(text[i]) != replacement {
                    var tampered = text
                    tampered[i] = Character(replacement)
                    let decoded = PageCursor(encoded: String(tampered))
                    #expect(decoded != cursor, "\(String(tampered)) still decodes to the same position")
                    if decoded == nil { refused += 1 }
                }
            }
            #expect(refused > text.count, "'=' and '.' at least are refused everywhere")
            #expect(PageCursor(encoded: String(text.dropLast(3))) == nil, "a truncated cursor")
        }

        @Test func pageRequestReadsLimitAndCursorAndAnswersA422ForABadCursor() throws {
            var query = FieldReader(query: [:])
            #expect(PageRequest(&query).limit == 50)
            var bad = FieldReader(query: ["limit": "0"])
            _ = PageRequest(&bad)
            #expect(bad.issues == [FieldIssue("limit", "must be between 1 and 200")])
            var forged = FieldReader(query: ["limit": "200", "cursor": "Zm9yZ2Vk"])
            let page = PageRequest(&forged)
            #expect(page.limit == 200 && forged.issues.isEmpty)
            do {
                _ = try page.cursor()
                Issue.record("a forged cursor was accepted")
            } catch let error as APIError {
                #expect(error.code == .validationError)
                #expect(error.details?["fields"]?.arrayValue?.first?["field"] == "cursor")
            }
        }

        /// A page of `limit` rows out of `limit + 1` carries the cursor of its last row; a short page carries none.
        @Test func replyGivesTheNextCursorOnlyWhenThereIsMore() throws {
            var query = FieldReader(query: ["limit": "2"])
            let page = PageRequest(&query)
            let rows = (0..<3).map { i in
                (createdAt: Date(timeIntervalSince1970: Double(2_000_000_000 - i)), id: UUID(), json: JSONValue.int(Int64(i)))
            }
            let full = try #require(JSONValue.parse(Array((page.reply(rows).body ?? "").utf8)))
            #expect(full["data"] == [0, 1])
            let next = try #require(full["next_cursor"]?.stringValue.flatMap { PageCursor(encoded: $0) })
            #expect(next == PageCursor(createdAt: rows[1].createdAt, id: rows[1].id))
            let last = try #require(JSONValue.parse(Array((page.reply(Array(rows.prefix(2))).body ?? "").utf8)))
            #expect(last["data"] == [0, 1])
            #expect(last["next_cursor"] == .null)
        }
    }
}
