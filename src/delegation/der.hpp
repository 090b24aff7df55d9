#pragma once
// DER for the few Kerberos and SPNEGO structures easgate encodes itself: definite lengths, known sizes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace easgate::delegation::der {

// Short form below 128 bytes, else a count byte and the length, big-endian.
inline std::size_t length_bytes(std::size_t length) {
    if (length < 0x80) return 1;
    std::size_t count = 1;
    for (; length != 0; length >>= 8) ++count;
    return count;
}

// The size of a whole tag-length-value with `content` bytes of content.
inline std::size_t tlv_size(std::size_t content) { return 1 + length_bytes(content) + content; }

inline void append_header(std::string& out, std::uint8_t tag, std::size_t content) {
    out += static_cast<char>(tag);
    if (content < 0x80) {
        out += static_cast<char>(content);
        return;
    }
    const std::size_t count = length_bytes(content) - 1;
    out += static_cast<char>(0x80 | count);
    for (std::size_t shift = 8 * count; shift != 0; shift -= 8)
        out += static_cast<char>((content >> (shift - 8)) & 0xff);
}

inline void append_tlv(std::string& out, std::uint8_t tag, std::string_view content) {
    append_header(out, tag, content.size());
    out += content;
}

// Writes DER back to front: each value first, then its header, whose length is then known. One
// buffer, each byte written once.
class BackwardWriter {
public:
    explicit BackwardWriter(std::size_t capacity) : buffer_(capacity, '\0'), start_(capacity) {}

    std::size_t written() const { return buffer_.size() - start_; }

    void bytes(std::string_view value) {
        make_room(value.size());
        start_ -= value.size();
        value.copy(buffer_.data() + start_, value.size());
    }

    void header(std::uint8_t tag, std::size_t content) {
        if (content < 0x80) {
            byte(static_cast<std::uint8_t>(content));
        } else {
            std::uint8_t count = 0;
            for (std::size_t rest = content; rest != 0; rest >>= 8, ++count)
                byte(static_cast<std::uint8_t>(rest));
            byte(0x80 | count);
        }
        byte(tag);
    }

    // What content() writes, under a header with that tag.
    template <class Content>
    void wrapped(std::uint8_t tag, Content&& content) {
        const std::size_t before = written();
        content();
        header(tag, written() - before);
    }

    void tlv(std::uint8_t tag, std::string_view value) {
        bytes(value);
        header(tag, value.size());
    }

    // An INTEGER: the fewest two's complement bytes, big-endian.
    void integer(std::int64_t value) {
        std::size_t count = 1;
        while (count < 8) {
            const std::int64_t shifted = value >> (8 * count - 1);
            if (shifted == 0 || shifted == -1) break;
            ++count;
        }
        for (std::size_t i = 0; i < count; ++i) byte(static_cast<std::uint8_t>(value >> (8 * i)));
        header(0x02, count);
    }

    std::string take() && {
        buffer_.erase(0, start_);
        start_ = 0;
        return std::move(buffer_);
    }

private:
    void byte(std::uint8_t value) {
        make_room(1);
        buffer_[--start_] = static_cast<char>(value);
    }

    void make_room(std::size_t size) {
        if (size <= start_) return;
        const std::size_t grow = std::max(size, buffer_.size());
        buffer_.insert(0, grow, '\0');
        start_ += grow;
    }

    std::string buffer_;
    std::size_t start_;  // where what is written begins
};

constexpr std::uint8_t context(unsigned number) { return static_cast<std::uint8_t>(0xa0 + number); }
constexpr std::uint8_t application(unsigned number) { return static_cast<std::uint8_t>(0x60 + number); }
constexpr std::uint8_t sequence = 0x30;
constexpr std::uint8_t octet_string = 0x04;
constexpr std::uint8_t general_string = 0x1b;
constexpr std::uint8_t generalized_time = 0x18;

}  // namespace easgate::delegation::der
