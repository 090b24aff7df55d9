#include "easgate/eas/long_poll.hpp"

#include <array>
#include <string>

#include "byte_reader.hpp"

namespace easgate::eas {
namespace {

// WBXML 1.3 global tokens EAS uses (WAP-192 WBXML 1.3, "Global Tokens").
constexpr std::uint8_t switch_page_token = 0x00;
constexpr std::uint8_t end_token = 0x01;
constexpr std::uint8_t entity_token = 0x02;
constexpr std::uint8_t inline_string_token = 0x03;
constexpr std::uint8_t opaque_token = 0xc3;
constexpr std::uint8_t content_bit = 0x40;
constexpr std::uint8_t attributes_bit = 0x80;
constexpr std::uint8_t tag_identity_mask = 0x3f;
constexpr std::uint8_t first_tag_identity = 0x05;  // 0x00-0x04 (and their bit variants) are global

constexpr std::uint8_t wbxml_version_1_3 = 0x03;
constexpr std::uint32_t utf8_mib_enum = 0x6a;  // NUL-terminated inline strings rely on it

// Code pages and tokens (MS-ASWBXML 2.1.2.1.1 AirSync, 2.1.2.1.14 Ping).
struct Tag {
    std::uint8_t page;
    std::uint8_t identity;
    bool operator==(const Tag&) const = default;
};
constexpr Tag sync_tag{0, 0x05};
constexpr Tag sync_wait_tag{0, 0x24};
constexpr Tag sync_heartbeat_interval_tag{0, 0x29};
constexpr Tag ping_tag{13, 0x05};
constexpr Tag ping_heartbeat_interval_tag{13, 0x08};

constexpr int max_depth = 32;
constexpr std::size_t max_value_digits = 10;

// A child of the command's top-level element that carries an interval, and its unit in seconds.
struct IntervalElement {
    Tag tag;
    std::int64_t seconds_per_unit;
};

struct CommandShape {
    Tag root;
    std::array<IntervalElement, 2> intervals;
    std::size_t interval_count;
};

std::optional<CommandShape> shape_for(std::string_view command) {
    if (command == "Ping") return CommandShape{ping_tag, {{{ping_heartbeat_interval_tag, 1}}}, 1};
    if (command == "Sync") {
        return CommandShape{sync_tag, {{{sync_wait_tag, 60}, {sync_heartbeat_interval_tag, 1}}}, 2};
    }
    return std::nullopt;
}

// WBXML's own encodings on top of the checked byte reads.
class WbxmlReader : public ByteReader {
public:
    using ByteReader::ByteReader;

    // WBXML mb_u_int32: 7 bits a byte, high bit set on all but the last, at most 5 bytes.
    std::optional<std::uint32_t> multibyte_integer() {
        std::uint64_t value = 0;
        for (int count = 0; count < 5; ++count) {
            const std::optional<std::uint8_t> next = byte();
            if (!next) return std::nullopt;
            value = (value << 7) | (*next & 0x7f);
            if ((*next & 0x80) == 0) {
                if (value > 0xffffffffu) return std::nullopt;
                return static_cast<std::uint32_t>(value);
            }
        }
        return std::nullopt;
    }

    // Bytes of a NUL-terminated inline string, without the NUL.
    std::optional<std::span<const std::uint8_t>> terminated_string() {
        for (std::size_t end = offset_; end < bytes_.size(); ++end) {
            if (bytes_[end] == 0) {
                const auto text = bytes_.subspan(offset_, end - offset_);
                offset_ = end + 1;
                return text;
            }
        }
        return std::nullopt;
    }
};

bool read_header(WbxmlReader& reader) {
    if (reader.byte() != wbxml_version_1_3) return false;
    const std::optional<std::uint32_t> public_id = reader.multibyte_integer();
    if (!public_id) return false;
    // Public id 0 means "named by the string table entry whose index follows" (WBXML 1.3 publicid).
    if (*public_id == 0 && !reader.multibyte_integer()) return false;
    if (reader.multibyte_integer() != utf8_mib_enum) return false;
    const std::optional<std::uint32_t> string_table_length = reader.multibyte_integer();
    return string_table_length && reader.bytes(*string_table_length);
}

// Decimal digits only: anything else, including a sign or spaces, is not a value to trust.
std::optional<std::int64_t> decimal_value(const std::string& digits) {
    if (digits.empty()) return std::nullopt;
    std::int64_t value = 0;
    for (const char digit : digits) {
        if (digit < '0' || digit > '9') return std::nullopt;
        value = value * 10 + (digit - '0');
    }
    return value;
}

// Walks the document after its header token by token, keeping only what finding the interval
// needs. Each step returns false when the body is not one to go by.
class IntervalSearch {
public:
    IntervalSearch(const CommandShape& shape, WbxmlReader& reader) : shape_(shape), reader_(reader) {}

    std::optional<std::chrono::seconds> run() {
        while (!reader_.at_end()) {
            if (root_closed_) return std::nullopt;  // bytes after the document
            if (!read_token()) return std::nullopt;
        }
        // Both Wait and HeartbeatInterval, or one twice: the server answers at once (MS-ASCMD 2.2.3.198).
        if (!root_closed_ || intervals_found_ != 1) return std::nullopt;
        if (*interval_seconds_ > max_long_poll_interval.count()) return std::nullopt;
        return std::chrono::seconds(*interval_seconds_);
    }

private:
    bool read_token() {
        const std::uint8_t token = *reader_.byte();
        switch (token) {
            case switch_page_token: {
                const std::optional<std::uint8_t> new_page = reader_.byte();
                if (!new_page) return false;
                page_ = *new_page;
                return true;
            }
            case end_token:
                return close_element();
            case entity_token:
                return add_entity(reader_.multibyte_integer());
            case inline_string_token:
                return add_text(reader_.terminated_string());
            case opaque_token: {
                const std::optional<std::uint32_t> length = reader_.multibyte_integer();
                if (!length) return false;
                return add_text(reader_.bytes(*length));
            }
            default:
                return open_element(token);
        }
    }

    bool close_element() {
        if (depth_ == 0) return false;
        if (open_interval_ != nullptr) {
            const std::optional<std::int64_t> units = decimal_value(value_);
            if (!units) return false;
            interval_seconds_ = *units * open_interval_->seconds_per_unit;
            ++intervals_found_;
            open_interval_ = nullptr;
        }
        if (--depth_ == 0) root_closed_ = true;
        return true;
    }

    bool add_entity(std::optional<std::uint32_t> character) {
        if (!character || depth_ == 0) return false;
        // A character entity may spell a digit (&#57;); digits stay digits.
        if (open_interval_ != nullptr) {
            if (*character > 0x7f || value_.size() == max_value_digits) return false;
            value_ += static_cast<char>(*character);
        }
        return true;
    }

    bool add_text(std::optional<std::span<const std::uint8_t>> text) {
        if (!text || depth_ == 0) return false;
        if (open_interval_ != nullptr) {
            if (text->size() > max_value_digits - value_.size()) return false;
            value_.append(text->begin(), text->end());
        }
        return true;
    }

    bool open_element(std::uint8_t token) {
        const std::uint8_t identity = token & tag_identity_mask;
        // Other global tokens (LITERAL, EXT_*, PI, STR_T) and attributes: EAS uses none of them.
        if (identity < first_tag_identity || (token & attributes_bit) != 0) return false;
        const bool has_content = (token & content_bit) != 0;
        const Tag tag{page_, identity};
        if (depth_ == 0) return open_root(tag, has_content);
        if (open_interval_ != nullptr) return false;  // an interval holds only a number
        if (depth_ == 1 && !open_child(tag, has_content)) return false;
        if (has_content) {
            if (depth_ == max_depth) return false;
            ++depth_;
        }
        return true;
    }

    bool open_root(const Tag& tag, bool has_content) {
        if (root_seen_ || tag != shape_.root) return false;
        root_seen_ = true;
        if (has_content) {
            depth_ = 1;
        } else {
            root_closed_ = true;
        }
        return true;
    }

    // A direct child of the top-level element: an interval element starts collecting its number.
    bool open_child(const Tag& tag, bool has_content) {
        for (std::size_t index = 0; index < shape_.interval_count; ++index) {
            if (shape_.intervals[index].tag == tag) open_interval_ = &shape_.intervals[index];
        }
        if (open_interval_ == nullptr) return true;
        if (!has_content) return false;  // <Wait/>: no number at all
        value_.clear();
        return true;
    }

    const CommandShape& shape_;
    WbxmlReader& reader_;
    std::uint8_t page_ = 0;
    int depth_ = 0;  // open elements with content; 1 inside the top-level element
    bool root_seen_ = false;
    bool root_closed_ = false;
    const IntervalElement* open_interval_ = nullptr;  // set while inside an interval element
    std::string value_;
    std::optional<std::int64_t> interval_seconds_;
    int intervals_found_ = 0;
};

}  // namespace

std::optional<std::chrono::seconds> long_poll_interval(std::string_view command,
                                                       std::span<const std::uint8_t> wbxml_body) {
    const std::optional<CommandShape> shape = shape_for(command);
    if (!shape || wbxml_body.empty() || wbxml_body.size() > max_long_poll_body_bytes) return std::nullopt;

    WbxmlReader reader(wbxml_body);
    if (!read_header(reader)) return std::nullopt;
    return IntervalSearch(*shape, reader).run();
}

}  // namespace easgate::eas
