#pragma once

#include <cstddef>

namespace easgate::common {

// What one read may add to a connection's read buffer: Beast's reads take at most 64 KiB.
inline constexpr std::size_t read_room_bytes = 64 * 1024;

// The most a connection's read buffer may hold, where what waits in it unparsed is at most a
// header, a chunk-size line or a trailer section of header_bytes, and one read. Beast's parser
// limits neither a chunk-size line (with its extensions) nor a trailer section: looking for the end
// of one that never comes, it would have the buffer grow for as long as the read's timer allows.
// At the bound, the read fails with http::error::buffer_overflow.
constexpr std::size_t read_buffer_limit(std::size_t header_bytes) { return header_bytes + read_room_bytes; }

}  // namespace easgate::common
