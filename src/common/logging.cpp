#include "easgate/common/logging.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>

#include "log_sink.hpp"

namespace easgate::common {
namespace {

// The fields of the line being logged on this thread (the logger is synchronous), for the JSON
// formatter; text lines carry them in the message.
thread_local std::span<const LogField> line_fields;
std::atomic<bool> json_logs{false};

void add_fields(nlohmann::json& line) {
    for (const auto& field : line_fields) {
        auto& member = line[std::string(field.key)];
        if (field.numeric) {
            member = field.number;
        } else {
            member = field.text;
        }
    }
}

using LineBuffer = fmt::basic_memory_buffer<char, 2048>;  // an access log line fits: no heap allocation

// Writes into a buffer sized beforehand for the worst case, so each piece is a plain copy.
struct LineWriter {
    char* at;
    void add(std::string_view text) {
        std::memcpy(at, text.data(), text.size());
        at += text.size();
    }
    void add(char c) { *at++ = c; }
};

// The most a text value can take: every byte escaped as \xHH, and two quotes.
std::size_t text_value_bound(std::string_view value) { return 4 * value.size() + 2; }
constexpr std::size_t number_bound = 20;  // "-9223372036854775808"

bool plain(char c) { return c > ' ' && c != '"' && c != '\\' && c != '\x7f'; }

// A text value as it goes after "key=": bare when every byte is plain, else quoted with quotes,
// backslashes and control bytes escaped, so a value a device chose can't forge a log line.
void append_text_value(LineWriter& out, std::string_view value) {
    if (!value.empty() && std::all_of(value.begin(), value.end(), plain)) {
        out.add(value);
        return;
    }
    out.add('"');
    for (const char c : value) {
        if (c == '"' || c == '\\') {
            out.add('\\');
            out.add(c);
        } else if (c == '\n') {
            out.add("\\n");
        } else if (static_cast<unsigned char>(c) < ' ' || c == '\x7f') {
            constexpr std::string_view hex = "0123456789abcdef";
            out.add("\\x");
            out.add(hex[static_cast<unsigned char>(c) >> 4]);
            out.add(hex[static_cast<unsigned char>(c) & 0x0f]);
        } else {
            out.add(c);
        }
    }
    out.add('"');
}

// One JSON object per line, so log shippers need no parsing rules.
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto since_epoch = msg.time.time_since_epoch();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
        nlohmann::json line = {
            {"ts_ms", ms},
            {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                  spdlog::level::to_string_view(msg.level).size())},
            {"msg", std::string(msg.payload.data(), msg.payload.size())},
        };
        add_fields(line);
        const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        dest.append(text.data(), text.data() + text.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

std::unique_ptr<spdlog::formatter> line_formatter(bool json_lines) {
    if (json_lines) return std::make_unique<JsonFormatter>();
    return make_text_line_formatter();
}

// With logging.access_log, where log_with_fields writes; set before the I/O threads start.
std::shared_ptr<AccessLogFileSink> access_log_file;
spdlog::logger* access_logger = nullptr;

}  // namespace

void configure_logging(const std::string& level, bool json_lines, const std::string& access_log) {
    json_logs = json_lines;
    auto logger = std::make_shared<spdlog::logger>("easgate", make_stderr_line_sink());
    logger->set_formatter(line_formatter(json_lines));
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
    if (access_log.empty()) return;
    access_log_file = std::make_shared<AccessLogFileSink>(access_log, line_formatter(json_lines));
    auto access = std::make_shared<spdlog::logger>("access", access_log_file);
    access->set_level(spdlog::level::from_str(level));  // spdlog::set_level (a reload) sets both
    access_logger = access.get();
    spdlog::register_logger(std::move(access));
    spdlog::flush_every(std::chrono::seconds(1));  // what a quiet gateway gathered is on disk a second later
}

void reopen_access_log() {
    if (!access_log_file) return;
    if (const auto failure = access_log_file->reopen(); !failure.empty()) {
        spdlog::error("access log: {}; lines go on to the file that was open", failure);
    } else {
        spdlog::info("access log: reopened {}", access_log_file->path());
    }
}

void flush_access_log() {
    if (access_log_file) access_log_file->flush();
}

void log_with_fields(bool warning, std::string_view message, std::span<const LogField> fields) {
    const auto level = warning ? spdlog::level::warn : spdlog::level::info;
    spdlog::logger& logger = access_logger ? *access_logger : *spdlog::default_logger_raw();
    if (!logger.should_log(level)) return;
    if (json_logs.load(std::memory_order_relaxed)) {
        line_fields = fields;
        logger.log(level, spdlog::string_view_t(message.data(), message.size()));
        line_fields = {};
        return;
    }
    std::size_t bound = message.size();
    for (const auto& field : fields) {
        if (!field.json_only)
            bound += 2 + field.key.size() + (field.numeric ? number_bound : text_value_bound(field.text));
    }
    LineBuffer line;
    line.resize(bound);
    LineWriter out{line.data()};
    out.add(message);
    for (const auto& field : fields) {
        if (field.json_only) continue;
        out.add(' ');
        out.add(field.key);
        out.add('=');
        if (field.numeric) {
            const fmt::format_int number(field.number);
            out.add({number.data(), number.size()});
        } else {
            append_text_value(out, field.text);
        }
    }
    // The line is final: handed over as it is, not through another format string.
    logger.log(level, spdlog::string_view_t(line.data(), static_cast<std::size_t>(out.at - line.data())));
}

std::optional<std::string> escaped_log_word(std::string_view word, bool escape_non_ascii) {
    const auto needs_escape = [escape_non_ascii](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte <= ' ' || c == '"' || c == '\\' || byte == 0x7f || (escape_non_ascii && byte >= 0x80);
    };
    if (std::none_of(word.begin(), word.end(), needs_escape)) return std::nullopt;
    constexpr std::string_view hex = "0123456789abcdef";
    std::string escaped;
    escaped.reserve(word.size() + 16);
    for (const char c : word) {
        if (!needs_escape(c)) {
            escaped += c;
            continue;
        }
        escaped += "\\x";
        escaped += hex[static_cast<unsigned char>(c) >> 4];
        escaped += hex[static_cast<unsigned char>(c) & 0x0f];
    }
    return escaped;
}

std::string suppressed_note(long suppressed) {
    return suppressed > 0 ? " (" + std::to_string(suppressed) + " more like it suppressed)" : std::string();
}

long LogRateLimiter::admit(std::string_view reason) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    // Reasons name what a peer sent (a certificate's names): each new one would be kept for good and
    // let through. Past max_reasons, those whose window ended go (their suppressed count with them),
    // and while that leaves no room every new reason shares one window.
    if (windows_.size() >= max_reasons && !windows_.contains(std::string(reason))) {
        std::erase_if(windows_, [&](const auto& entry) { return now - entry.second.last >= interval_; });
        if (windows_.size() >= max_reasons) reason = "(more reasons than easgate keeps apart)";
    }
    auto [it, inserted] = windows_.try_emplace(std::string(reason));
    Window& window = it->second;
    if (!inserted && now - window.last < interval_) {
        ++window.suppressed;
        return -1;
    }
    window.last = now;
    return std::exchange(window.suppressed, 0);
}

}  // namespace easgate::common
