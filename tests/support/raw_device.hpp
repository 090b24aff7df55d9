#pragma once

// A device that sends exactly the bytes a test gives it, for requests curl would never write
// (smuggling attempts, broken framing).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace easgate::testing {

struct RawExchange {
    std::string response;  // every byte the gateway sent back
    bool closed = false;   // the gateway ended the connection (rather than the wait timing out)
};

// Connects to 127.0.0.1:port over TLS with the device certificate, writes request, and reads until
// the gateway closes the connection or timeout passes.
RawExchange send_raw(std::uint16_t port, const std::filesystem::path& gateway_ca,
                     const std::filesystem::path& cert, const std::filesystem::path& key,
                     const std::string& request, std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace easgate::testing
