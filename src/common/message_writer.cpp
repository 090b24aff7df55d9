#include "easgate/common/message_writer.hpp"

#include <boost/beast/http/status.hpp>
#include <charconv>

namespace easgate::common {
namespace {

namespace http = boost::beast::http;
using boost::asio::const_buffer;

constexpr std::string_view crlf = "\r\n";
constexpr std::string_view crlf_and_last_chunk = "\r\n0\r\n\r\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";

std::string_view version_text(unsigned version) { return version >= 11 ? "HTTP/1.1" : "HTTP/1.0"; }

// The fields as the parser and our rewrites left them, in order, each as its wire text, then the
// empty line.
void append_fields(std::string& out, const Fields& fields) {
    for (const auto& field : fields) out += field.line();
    out += crlf;
}

std::size_t fields_size(const Fields& fields) {
    std::size_t size = 2;
    for (const auto& field : fields) size += field.line().size();
    return size;
}

}  // namespace

MessageWriter::MessageWriter(const RequestHeader& header) : MessageWriter(header.is_chunked()) {
    const std::string_view method = header.method_string(), target = header.target();
    head_.reserve(method.size() + target.size() + 11 + fields_size(header));
    head_ += method;
    head_ += ' ';
    head_ += target;
    head_ += ' ';
    head_ += version_text(header.version());
    head_ += crlf;
    append_fields(head_, header);
}

MessageWriter::MessageWriter(const ResponseHeader& header) : MessageWriter(header.is_chunked()) {
    const unsigned status = header.result_int();
    std::string_view reason = header.reason();
    if (reason.empty()) reason = http::obsolete_reason(header.result());
    head_.reserve(15 + reason.size() + fields_size(header));
    head_ += version_text(header.version());
    head_ += ' ';
    head_ += static_cast<char>('0' + status / 100 % 10);
    head_ += static_cast<char>('0' + status / 10 % 10);
    head_ += static_cast<char>('0' + status % 10);
    head_ += ' ';
    head_ += reason;
    head_ += crlf;
    append_fields(head_, header);
}

std::span<const const_buffer> MessageWriter::next(std::span<const char> body, bool last) {
    std::size_t count = 0;
    if (!header_sent_) buffers_[count++] = const_buffer(head_.data(), head_.size());
    header_sent_ = true;
    if (!chunked_) {
        if (!body.empty()) buffers_[count++] = const_buffer(body.data(), body.size());
        return {buffers_.data(), count};
    }
    if (!body.empty()) {
        const auto end = std::to_chars(chunk_size_.data(), chunk_size_.data() + 16, body.size(), 16).ptr;
        end[0] = '\r';
        end[1] = '\n';
        buffers_[count++] = const_buffer(chunk_size_.data(), end + 2 - chunk_size_.data());
        buffers_[count++] = const_buffer(body.data(), body.size());
        const std::string_view after = last ? crlf_and_last_chunk : crlf;
        buffers_[count++] = const_buffer(after.data(), after.size());
    } else if (last) {
        buffers_[count++] = const_buffer(last_chunk.data(), last_chunk.size());
    }
    return {buffers_.data(), count};
}

}  // namespace easgate::common
