import Foundation
import InnkeepRedis
import NIOCore
import NIOPosix
import Testing

extension Unit {
    /// RESP2 parsing and encoding on plain byte buffers; no server needed.
    @Suite struct RESPCodecTests {
        @Test func parsesEveryScalarKind() throws {
            var buffer = ByteBuffer(string: "+OK\r\n-ERR bad\r\n:-42\r\n$5\r\nhello\r\n$-1\r\n$0\r\n\r\n*-1\r\n*0\r\n")
            let expected: [RESPValue] = [
                .simpleString("OK"), .error("ERR bad"), .integer(-42), .bulkString(Array("hello".utf8)),
                .bulkString(nil), .bulkString([]), .array(nil), .array([]),
            ]
            for value in expected { #expect(try RESPParser.parse(&buffer) == value) }
            #expect(try RESPParser.parse(&buffer) == nil)
            #expect(buffer.readableBytes == 0)
        }

        @Test func parsesNestedArraysAndBinaryBulkStrings() throws {
            var buffer = ByteBuffer(string: "*3\r\n:1\r\n*2\r\n$4\r\na\r\nb\r\n*1\r\n$-1\r\n+x\r\n")
            let nested: RESPValue = .array([
                .integer(1), .array([.bulkString(Array("a\r\nb".utf8)), .array([.bulkString(nil)])]), .simpleString("x"),
            ])
            #expect(try RESPParser.parse(&buffer) == nested)
        }

        @Test func waitsForEveryByteOfASplitReply() throws {
            let wire = Array("*2\r\n$6\r\nfoo\r\nx\r\n*2\r\n:7\r\n-WRONGTYPE no\r\n".utf8)
            var buffer = ByteBuffer()
            for (index, byte) in wire.enumerated() {
                buffer.writeInteger(byte)
                let value = try RESPParser.parse(&buffer)
                if index < wire.count - 1 {
                    #expect(value == nil, "complete after only \(index + 1) of \(wire.count) bytes")
                    #expect(buffer.readerIndex == 0, "consumed bytes of an incomplete reply")
                } else {
                    #expect(value == .array([.bulkString(Array("foo\r\nx".utf8)), .array([.integer(7), .error("WRONGTYPE no")])]))
                }
            }
        }

        @Test(arguments: ["?x\r\n", ":12a\r\n", "$3\r\nabcXY", "+a\rb\r\n", "$-5\r\n", "*-2\r\n"])
        func rejectsMalformedInput(_ wire: String) {
            var buffer = ByteBuffer(string: wire)
            #expect(throws: RedisError.self) { try RESPParser.parse(&buffer) }
        }

        @Test func encodesCommandsAsBinarySafeBulkStrings() {
            let encoded = RESPEncoder.encode(["SET", "k", "a\r\nb", "é"])
            #expect(String(buffer: encoded) == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$2\r\né\r\n")
        }

        @Test func accessorsReadTheObviousShapes() {
            #expect(RESPValue.integer(3).int == 3)
            #expect(RESPValue.bulkString(Array("12".utf8)).int == 12)
            #expect(RESPValue.simpleString("OK").string == "OK")
            #expect(RESPValue.bulkString(nil).string == nil)
            #expect(RESPValue.bulkString(nil).isNull)
            #expect(RESPValue.array([.integer(1)]).elements == [.integer(1)])
        }

        @Test func parsesRedisURLs() throws {
            let full = try RedisClient.Configuration(url: "redis://:s3cr%40t@cache.local:6380/2")
            #expect(full.host == "cache.local" && full.port == 6380 && full.password == "s3cr@t" && full.database == 2)
            #expect(full.username == nil)
            let plain = try RedisClient.Configuration(url: "redis://127.0.0.1:63799")
            #expect(plain.port == 63799 && plain.password == nil && plain.database == 0)
            #expect(try RedisClient.Configuration(url: "redis://app:pw@[::1]:7000/0").host == "::1")
            for bad in ["http://h:1", "redis://:6379", "redis://h:1/x", "redis://h:1/-1", "redis://h:99999", "not a url"] {
                #expect(throws: RedisError.self, "accepted \(bad)") { try RedisClient.Configuration(url: bad) }
            }
        }
    }
}
