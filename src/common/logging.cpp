#include "easgate/common/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace easgate::common {
namespace {

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
        const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        dest.append(text.data(), text.data() + text.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

void configure_logging(const std::string& level, bool json_lines) {
    auto logger =
        std::make_shared<spdlog::logger>("easgate", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (json_lines) {
        logger->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
    }
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
}

long LogRateLimiter::admit(std::string_view reason) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
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
