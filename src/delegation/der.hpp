#pragma once
// DER for the few Kerberos and SPNEGO structures easgate encodes itself: definite lengths, known sizes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace easgate::delegation::der {

// Writes DER back to front: each value first, then its header, whose length is then known. One
// buffer, each byte written once.
class BackwardWriter {
public:
    explicit BackwardWriter(std::size_t capacity) : buffer_(capacity, '\0'), start_(capacity) {}

    std::size_t written() const { return buffer_.size() - start_; }

    // What is written so far.
    std::string_view view() const { return std::string_view(buffer_).substr(start_); }

    void bytes(std::string_view value) {
        make_room(value.size());
        start_ -= value.size();
        value.copy(buffer_.data() + start_, value.size());
    }

    // Tag and length, placed in one step: a token has about fifty of them.
    void header(std::uint8_t tag, std::size_t content) {
        std::size_t count = 0;  // length bytes after the first: none below 0x80
        if (content >= 0x80)
            for (std::size_t rest = content; rest != 0; rest >>= 8) ++count;
        make_room(2 + count);
        start_ -= 2 + count;
        char* at = buffer_.data() + start_;
        at[0] = static_cast<char>(tag);
        at[1] = static_cast<char>(count == 0 ? content : 0x80 | count);
        for (std::size_t i = 0; i < count; ++i)
            at[2 + i] = static_cast<char>(content >> (8 * (count - 1 - i)));
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
constexpr std::uint8_t object_identifier = 0x06;
constexpr std::uint8_t general_string = 0x1b;
constexpr std::uint8_t generalized_time = 0x18;

}  // namespace easgate::delegation::der
