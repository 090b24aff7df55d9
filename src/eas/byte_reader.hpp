#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace easgate::eas {

// Reads bytes a device sent front to back; every read is checked against what is left, so no
// length field can make a parser read past the end.
class ByteReader {
public:
    explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

    std::size_t offset() const { return offset_; }
    std::size_t remaining() const { return bytes_.size() - offset_; }
    bool at_end() const { return remaining() == 0; }

    std::optional<std::uint8_t> byte() {
        if (at_end()) return std::nullopt;
        return bytes_[offset_++];
    }

    std::optional<std::span<const std::uint8_t>> bytes(std::size_t count) {
        if (count > remaining()) return std::nullopt;
        const auto taken = bytes_.subspan(offset_, count);
        offset_ += count;
        return taken;
    }

protected:
    std::span<const std::uint8_t> bytes_;
    std::size_t offset_ = 0;
};

}  // namespace easgate::eas
