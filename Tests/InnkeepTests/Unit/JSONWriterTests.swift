import Foundation
import Testing

@testable import Innkeep

extension Unit {
    /// `JSONWriter`: the bytes a resource writes itself are the bytes `JSONValue` writes for the same object.
    @Suite struct JSONWriterTests {
        struct Sample: JSONWritable {
            var id = UUID(uuidString: "0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9")!
            var name = "a \"quoted\" \\ name\n\u{01} é"
            var missing: String? = nil
            var count = -1234
            var big: Int64? = Int64.max
            var at = Date(timeIntervalSince1970: 1_709_164_800.25)
            var nested: JSONValue = ["z": [1, "two", nil], "a": true]

            func writeJSON(_ w: inout JSONWriter) {
                w.object { o in
                    o.field("at", at)
                    o.field("big", big)
                    o.field("count", count)
                    o.field("id", id)
                    o.field("missing", missing)
                    o.field("name", name)
                    o.field("nested", nested)
                    o.field("none", nil as UUID?)
                }
            }

            var tree: JSONValue {
                [
                    "at": JSONValue(at), "big": JSONValue(big), "count": .int(Int64(count)), "id": JSONValue(id), "missing": JSONValue(missing),
                    "name": .string(name), "nested": nested, "none": .null,
                ]
            }
        }

        @Test func writesWhatJSONValueWrites() {
            let sample = Sample()
            #expect(sample.jsonText == sample.tree.serialized)
            #expect(sample.json == sample.tree)
            #expect(sample.jsonText.contains(#""id":"0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9""#))
        }

        @Test func pagesOfWrittenItems() {
            let items = [Sample(), Sample(count: 7)]
            let page = Reply.page(items, nextCursor: "abc")
            let expected: JSONValue = ["data": .array(items.map(\.tree)), "next_cursor": "abc"]
            #expect(page.body == expected.serialized)
            #expect(Reply.page([Sample](), nextCursor: nil).body == #"{"data":[],"next_cursor":null}"#)
        }

        @Test func uuidStringsMatchFoundation() {
            for _ in 0..<100 {
                let id = UUID()
                #expect(id.lowercasedString == id.uuidString.lowercased())
            }
        }
    }
}
