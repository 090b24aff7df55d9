#include "easgate/common/text_pattern.hpp"

#include <boost/regex.hpp>
#include <stdexcept>

namespace easgate::common {

struct TextPattern::Compiled {
    boost::regex regex;
};

TextPattern::TextPattern(std::string_view pattern) {
    try {
        regex_ = std::make_shared<const Compiled>(
            Compiled{boost::regex(pattern.begin(), pattern.end(), boost::regex::perl | boost::regex::icase)});
    } catch (const boost::regex_error& e) {
        throw std::invalid_argument(e.what());
    }
}

bool TextPattern::found_in(std::string_view text) const {
    try {
        return boost::regex_search(text.begin(), text.end(), regex_->regex);
    } catch (const std::runtime_error&) {
        return false;  // Boost.Regex's complexity limit: this text can't be judged by this pattern
    }
}

}  // namespace easgate::common
