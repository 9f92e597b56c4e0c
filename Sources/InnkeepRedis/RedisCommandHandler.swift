import NIOCore

/// One command on its way to the server: what to send, where the reply goes, how long it may take.
struct RedisRequest: Sendable {
    let command: [String]
    let reply: EventLoopPromise<RESPValue>
    let timeout: TimeAmount
}

/// Writes commands and hands each reply to the oldest waiting command.
///
/// Redis answers the commands of one connection strictly in order, so a FIFO queue of promises is all
/// the bookkeeping pipelining needs. Any failure (drop, timeout, garbage) fails every waiting command
/// and closes the connection: after that the order can no longer be trusted.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let reply: EventLoopPromise<RESPValue>
        let timer: Scheduled<Void>
    }

    private var pending = CircularBuffer<Pending>()
    /// Set once the connection is unusable; later writes fail at once instead of waiting forever.
    private var failureReason: String?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        if let failureReason {
            request.reply.fail(RedisError.unavailable(failureReason))
            promise?.fail(RedisError.unavailable(failureReason))
            return
        }
        let timeout = request.timeout
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] () -> Void in
            self?.failAll(reason: "command timed out after \(Duration(timeout))", context: context)
        }
        pending.append(Pending(reply: request.reply, timer: timer))
        var buffer = context.channel.allocator.buffer(capacity: 64)
        RESPEncoder.encode(request.command, into: &buffer)
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        guard let next = pending.popFirst() else {
            // Replies after a failure are expected and dropped; otherwise the stream is out of step.
            if failureReason == nil { failAll(reason: "reply without a pending command", context: context) }
            return
        }
        next.timer.cancel()
        next.reply.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(reason: "connection closed", context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(reason: "connection error: \(error)", context: context)
    }

    private func failAll(reason: String, context: ChannelHandlerContext) {
        if failureReason == nil { failureReason = reason }
        let error = RedisError.unavailable(failureReason ?? reason)
        let waiting = pending
        pending.removeAll()
        // Close before failing: a woken caller must not find the channel still active and reuse it.
        context.close(promise: nil)
        for command in waiting {
            command.timer.cancel()
            command.reply.fail(error)
        }
    }
}
