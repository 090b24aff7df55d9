#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <memory>

// The pieces configure_logging puts under spdlog: every access log line passes through them, so
// each is cut to what a line needs.
namespace easgate::common {

// Text lines exactly as spdlog's pattern "%Y-%m-%dT%H:%M:%S.%e%z %l %v" writes them
// ("2026-12-02T22:50:01.007+01:00 info ..."), with the date, time and UTC offset formatted once
// per second per thread instead of field by field for every line.
std::unique_ptr<spdlog::formatter> make_text_line_formatter();

// Writes each line to stderr as it is logged. Unlike spdlog's stderr sink, the line is formatted
// into a buffer the sink keeps, so a line longer than 250 bytes (an access log line) costs no
// allocation.
std::shared_ptr<spdlog::sinks::sink> make_stderr_line_sink();

}  // namespace easgate::common
