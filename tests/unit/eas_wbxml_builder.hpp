#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "easgate/eas/long_poll.hpp"

// WBXML bodies for the long_poll_interval tests, written independently of the reader.
namespace easgate::eas::test {

using Bytes = std::vector<std::uint8_t>;
using std::chrono::seconds;

// Tokens from MS-ASWBXML 2.1.2.1.1 (AirSync, code page 0) and 2.1.2.1.14 (Ping, code page 13),
// restated here so a wrong value in the implementation fails the tests.
inline constexpr std::uint8_t airsync_page = 0;
inline constexpr std::uint8_t sync = 0x05;
inline constexpr std::uint8_t sync_key = 0x0b;
inline constexpr std::uint8_t collection = 0x0f;
inline constexpr std::uint8_t collection_id = 0x12;
inline constexpr std::uint8_t collections = 0x1c;
inline constexpr std::uint8_t wait = 0x24;
inline constexpr std::uint8_t sync_heartbeat_interval = 0x29;
inline constexpr std::uint8_t ping_page = 13;
inline constexpr std::uint8_t ping = 0x05;
inline constexpr std::uint8_t ping_heartbeat_interval = 0x08;
inline constexpr std::uint8_t folders = 0x09;
inline constexpr std::uint8_t folder = 0x0a;
inline constexpr std::uint8_t folder_id = 0x0b;
inline constexpr std::uint8_t folder_class = 0x0c;

// Writes WBXML the way a device does: header (1.3, public id 1, UTF-8, no string table), then tokens.
class Wbxml {
public:
    Wbxml() : bytes_{0x03, 0x01, 0x6a, 0x00} {}
    static Wbxml with_header(std::initializer_list<std::uint8_t> header) {
        Wbxml wbxml;
        wbxml.bytes_.assign(header);
        return wbxml;
    }

    Wbxml& page(std::uint8_t code_page) { return raw({0x00, code_page}); }
    Wbxml& open(std::uint8_t tag) { return raw({static_cast<std::uint8_t>(tag | 0x40)}); }
    Wbxml& empty(std::uint8_t tag) { return raw({tag}); }
    Wbxml& end() { return raw({0x01}); }
    Wbxml& text(std::string_view text) {
        bytes_.push_back(0x03);
        bytes_.insert(bytes_.end(), text.begin(), text.end());
        bytes_.push_back(0x00);
        return *this;
    }
    Wbxml& opaque(std::string_view data) {
        bytes_.push_back(0xc3);
        Bytes length;
        std::uint32_t remaining = static_cast<std::uint32_t>(data.size());
        do {
            length.insert(length.begin(),
                          static_cast<std::uint8_t>((remaining & 0x7f) | (length.empty() ? 0 : 0x80)));
            remaining >>= 7;
        } while (remaining != 0);
        bytes_.insert(bytes_.end(), length.begin(), length.end());
        bytes_.insert(bytes_.end(), data.begin(), data.end());
        return *this;
    }
    // An element holding one inline string: <tag>value</tag>.
    Wbxml& element(std::uint8_t tag, std::string_view value) { return open(tag).text(value).end(); }
    Wbxml& raw(std::initializer_list<std::uint8_t> bytes) {
        bytes_.insert(bytes_.end(), bytes);
        return *this;
    }
    std::size_t size() const { return bytes_.size(); }
    const Bytes& bytes() const { return bytes_; }

private:
    Bytes bytes_;
};

inline std::optional<seconds> interval(std::string_view command, const Wbxml& body) {
    return long_poll_interval(command, body.bytes());
}

inline Wbxml ping_body(std::string_view heartbeat) {
    return std::move(Wbxml().page(ping_page).open(ping).element(ping_heartbeat_interval, heartbeat).end());
}

inline Wbxml sync_body(std::uint8_t interval_tag, std::string_view value) {
    Wbxml body;
    body.open(sync).open(collections).open(collection);
    body.element(sync_key, "1681523").element(collection_id, "5").end().end();
    body.element(interval_tag, value).end();
    return body;
}

}  // namespace easgate::eas::test
