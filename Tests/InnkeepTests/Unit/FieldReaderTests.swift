import Foundation
import Testing

@testable import Innkeep

extension Unit {
    /// `FieldReader` reads typed fields from a JSON body or a query string and collects every problem, so one
    /// 422 names all the bad fields at once (SPEC §5).
    @Suite struct FieldReaderTests {
        @Test func everyProblemIsCollectedAndFinishThrowsOne422NamingThemAll() throws {
            var r = FieldReader(["name": .int(3), "max_guests": .string("2"), "note": .null])
            #expect(r.string("name", required: true) == nil)
            #expect(r.int("max_guests", required: true, range: 1...10) == nil)
            #expect(r.string("note", required: true) == nil)
            #expect(r.string("missing", required: true) == nil)
            #expect(r.string("optional") == nil)
            #expect(
                r.issues == [
                    FieldIssue("name", "must be a string"), FieldIssue("max_guests", "must be an integer"),
                    FieldIssue("note", "must not be null"), FieldIssue("missing", "is required"),
                ]
            )
            do {
                try r.finish()
                Issue.record("finish() did not throw")
            } catch let error as APIError {
                #expect(error.code == .validationError)
                #expect(error.details?["fields"]?.arrayValue?.count == 4)
            }
        }

        @Test func aCleanReadFinishesWithoutThrowingAndIgnoresUnknownFields() throws {
            var r = FieldReader(["name": "Sea view", "max_guests": .int(4), "agency_id": .string(UUID().uuidString)])
            #expect(r.string("name", required: true, length: 1...200) == "Sea view")
            #expect(r.int("max_guests", required: true, range: 1...50) == 4)
            #expect(r.issues.isEmpty)
            try r.finish()
            #expect(r.has("agency_id") && !r.has("id"))
        }

        /// Lengths count code points, as JSON Schema's maxLength and Postgres' length() do: "e" and 200 combining
        /// accents is one character but 201 code points, and once reached a CHECK constraint as a 500.
        @Test func lengthsCountCodePointsAndNulIsRefused() {
            var r = FieldReader([
                "combining": .string("e" + String(repeating: "\u{301}", count: 200)),
                "exact": .string(String(repeating: "é", count: 200)),
                "nul": .string("a\0b"),
                "short": .string(""),
            ])
            #expect(r.string("combining", length: 1...200) == nil)
            #expect(r.string("exact", length: 1...200)?.unicodeScalars.count == 200)
            #expect(r.string("nul") == nil)
            #expect(r.string("short", length: 1...200) == nil)
            #expect(r.issues.map(\.field) == ["combining", "nul", "short"])
            #expect(r.issues[0].issue == "must be 1 to 200 characters")
            #expect(r.issues[1].issue == "must not contain NUL characters")
        }

        /// A query string carries numbers as text; a JSON body must use JSON numbers.
        @Test func integersFromTheQueryMayBeDigitsFromABodyMayNot() {
            var query = FieldReader(query: ["limit": "25", "big": "201", "word": "ten"])
            #expect(query.int("limit", range: 1...200) == 25)
            #expect(query.int("big", range: 1...200) == nil)
            #expect(query.int("word", range: 1...200) == nil)
            #expect(query.issues == [FieldIssue("big", "must be between 1 and 200"), FieldIssue("word", "must be an integer")])
            var body = FieldReader(["limit": .string("25")])
            #expect(body.int("limit", range: 1...200) == nil)
            #expect(body.issues == [FieldIssue("limit", "must be an integer")])
        }

        @Test func choicesUUIDsDatesEmailsAndBooleans() {
            let id = UUID()
            var r = FieldReader([
                "role": "manager", "bad_role": "root", "id": .string(id.uuidString), "bad_id": "nope",
                "date": "2031-02-28", "bad_date": "2031-02-29", "email": "a@b.co", "bad_email": "a b@c.d",
                "flag": .bool(true), "bad_flag": .string("true"),
            ])
            #expect(r.choice("role", as: Role.self) == .manager)
            #expect(r.choice("bad_role", as: Role.self) == nil)
            #expect(r.uuid("id") == id)
            #expect(r.uuid("bad_id") == nil)
            #expect(r.date("date") == CalendarDate("2031-02-28"))
            #expect(r.date("bad_date") == nil)
            #expect(r.email("email") == "a@b.co")
            #expect(r.email("bad_email") == nil)
            #expect(r.bool("flag") == true)
            #expect(r.bool("bad_flag") == nil)
            #expect(r.issues.map(\.field) == ["bad_role", "bad_id", "bad_date", "bad_email", "bad_flag"])
            #expect(r.issues[0].issue.hasPrefix("must be one of "))
            #expect(r.issues[2].issue == "must be a date YYYY-MM-DD")
        }

        /// One `@` with something before it, a dot after it, and no whitespace of any script anywhere.
        @Test(arguments: [
            ("guest@example.com", true), ("a@b.co", true), ("ünï@cödé.example", true), ("a.b@c", false),
            ("@b.co", false), ("a@@b.co", false), ("a@b@c.co", false), ("ab.co", false), ("a@bco", false),
            ("a b@c.d", false), ("a@b.co\n", false), ("a\t@b.co", false), ("a\u{00A0}@b.co", false), ("a@b.\u{2003}co", false),
        ])
        func emails(address: String, valid: Bool) {
            var r = FieldReader(["email": .string(address)])
            #expect(r.email("email") == (valid ? address : nil))
            #expect(r.issues == (valid ? [] : [FieldIssue("email", "must be an email address")]))
        }

        /// An explicit `null` is told apart from an absent field (PATCH clears a field with it).
        @Test func explicitNullIsToldApartFromAbsent() {
            let r = FieldReader(["cleared": .null])
            #expect(r.isNull("cleared") && r.has("cleared"))
            #expect(!r.isNull("absent") && !r.has("absent"))
        }
    }
}
