#include "easgate/common/replace_file.hpp"

#include <fstream>

namespace easgate::common {

std::error_code replace_file(const std::filesystem::path& path, std::string_view text) {
    const std::filesystem::path aside = path.string() + ".new";
    {
        std::ofstream out(aside, std::ios::binary | std::ios::trunc);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.flush();
        if (!out) return std::make_error_code(std::errc::io_error);
    }
    std::error_code error;
    std::filesystem::rename(aside, path, error);
    return error;
}

}  // namespace easgate::common
