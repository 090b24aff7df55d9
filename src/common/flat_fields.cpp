#include "easgate/common/flat_fields.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace easgate::common {
namespace {

namespace http = boost::beast::http;

// Room for a typical ActiveSync request's fields and the ones easgate adds, so that the array is
// made once per header.
constexpr std::uint32_t first_capacity = 24;

// The last coding in a Transfer-Encoding list, as Beast's message::chunked() reads it.
std::string_view last_coding(std::string_view codings) {
    std::string_view last;
    for (const auto coding : http::token_list{codings}) last = coding;
    return last;
}

// The fields of one name: by Beast's constant when it has one, else an unknown field whose name is
// the same in any case.
auto named(std::string_view name) {
    return [id = http::string_to_field(name), name](const FlatFields::Field& f) {
        return f.name() == id && (id != http::field::unknown || boost::beast::iequals(f.name_string(), name));
    };
}

}  // namespace

FlatFields::FlatFields(const FlatFields& other) : FlatFields() {
    for (const auto& field : other) insert(field.name(), field.name_string(), field.value());
    set_method_impl(other.method_);
    set_target_impl(other.target_or_reason_);
}

std::string_view FlatFields::operator[](field name) const {
    const auto found = find(name);
    return found == end() ? std::string_view() : found->value();
}

std::string_view FlatFields::operator[](std::string_view name) const {
    const auto found = find(name);
    return found == end() ? std::string_view() : found->value();
}

FlatFields::const_iterator FlatFields::find(field name) const {
    if (name == field::unknown) return end();
    return std::find_if(begin(), end(), [name](const Field& f) { return f.id_ == name; });
}

FlatFields::const_iterator FlatFields::find(std::string_view name) const {
    return std::find_if(begin(), end(), named(name));
}

std::size_t FlatFields::count(field name) const {
    if (name == field::unknown) return 0;
    return std::count_if(begin(), end(), [name](const Field& f) { return f.id_ == name; });
}

std::size_t FlatFields::count(std::string_view name) const {
    return std::count_if(begin(), end(), named(name));
}

void FlatFields::insert(field name, std::string_view value) { insert(name, http::to_string(name), value); }

void FlatFields::insert(std::string_view name, std::string_view value) {
    insert(http::string_to_field(name), name, value);
}

void FlatFields::insert(field name, std::string_view name_string, std::string_view value) {
    if (name_string.size() > max_name_size) throw std::length_error("header field name too large");
    if (value.size() > UINT32_MAX - max_name_size - 4)
        throw std::length_error("header field value too large");
    if (size_ == capacity_) grow();
    Field& added = fields_[size_];
    added.id_ = name;
    added.name_size_ = static_cast<std::uint16_t>(name_string.size());
    added.value_size_ = static_cast<std::uint32_t>(value.size());
    added.text_ = static_cast<char*>(memory_->allocate(added.line_size(), 1));
    char* at = std::copy(name_string.begin(), name_string.end(), added.text_);
    *at++ = ':';
    *at++ = ' ';
    at = std::copy(value.begin(), value.end(), at);
    *at++ = '\r';
    *at = '\n';
    ++size_;
}

// The new field is made before the old ones go, so a value that views one of them is copied whole.
void FlatFields::set(field name, std::string_view value) {
    insert(name, value);
    keep_only_last();
}

void FlatFields::set(std::string_view name, std::string_view value) {
    insert(name, value);
    keep_only_last();
}

// The other fields of the last one's name go; it is matched by its own copy of the name, which
// stays, not by the caller's, which may view a field that goes.
void FlatFields::keep_only_last() {
    const Field added = fields_[--size_];
    erase_if(named(added.name_string()));
    fields_[size_++] = added;
}

FlatFields::const_iterator FlatFields::erase(const_iterator at) {
    const auto index = static_cast<std::size_t>(at - fields_);
    give_back(fields_[index]);
    std::copy(fields_ + index + 1, fields_ + size_, fields_ + index);
    --size_;
    return fields_ + index;
}

std::size_t FlatFields::erase(field name) {
    if (name == field::unknown) return 0;
    return erase_if([name](const Field& f) { return f.id_ == name; });
}

std::size_t FlatFields::erase(std::string_view name) { return erase_if(named(name)); }

void FlatFields::clear() {
    for (const auto& field : *this) give_back(field);
    size_ = 0;
}

void FlatFields::drop() {
    clear();
    if (fields_) memory_->deallocate(fields_, capacity_ * sizeof(Field), alignof(Field));
    fields_ = nullptr;
    capacity_ = 0;
    replace_text(method_, {});
    replace_text(target_or_reason_, {});
}

void FlatFields::grow() {
    const std::uint32_t capacity = capacity_ == 0 ? first_capacity : capacity_ * 2;
    auto* grown = static_cast<Field*>(memory_->allocate(capacity * sizeof(Field), alignof(Field)));
    if (fields_) {
        std::copy(fields_, fields_ + size_, grown);
        memory_->deallocate(fields_, capacity_ * sizeof(Field), alignof(Field));
    }
    fields_ = grown;
    capacity_ = capacity;
}

void FlatFields::give_back(const Field& field) { memory_->deallocate(field.text_, field.line_size(), 1); }

void FlatFields::replace_text(std::string_view& kept, std::string_view text) {
    if (!kept.empty()) memory_->deallocate(const_cast<char*>(kept.data()), kept.size(), 1);
    kept = {};
    if (text.empty()) return;
    auto* copy = static_cast<char*>(memory_->allocate(text.size(), 1));
    std::memcpy(copy, text.data(), text.size());
    kept = {copy, text.size()};
}

bool FlatFields::is_chunked() const {
    return boost::beast::iequals(last_coding((*this)[field::transfer_encoding]), "chunked");
}

// Every Connection field, as one list (RFC 9110 5.3), and Proxy-Connection too, exactly as Beast's
// parser reads them (basic_fields looks at the first Connection field only: a device's "close" in
// a second one was not obeyed).
bool FlatFields::get_keep_alive_impl(unsigned version) const {
    bool close = false;
    bool keep_alive = false;
    for (const auto& each : *this) {
        if (each.name() != field::connection && each.name() != field::proxy_connection) continue;
        http::token_list options{each.value()};  // exists() is not const
        close = close || options.exists("close");
        keep_alive = keep_alive || options.exists("keep-alive");
    }
    return version < 11 ? keep_alive : !close;
}

// As basic_fields does, with Beast's own token-list editing.
void FlatFields::set_chunked_impl(bool chunked) {
    const auto codings = find(field::transfer_encoding);
    if (chunked) {
        if (codings == end()) return insert(field::transfer_encoding, "chunked");
        if (boost::beast::iequals(last_coding(codings->value()), "chunked")) return;
        boost::beast::detail::temporary_buffer edited;
        edited.append(codings->value(), ", chunked");
        return set(field::transfer_encoding, edited.view());
    }
    if (codings == end()) return;
    boost::beast::detail::temporary_buffer edited;
    http::detail::filter_token_list_last(edited, codings->value(), {"chunked", {}});
    if (edited.empty()) {
        erase(field::transfer_encoding);
    } else {
        set(field::transfer_encoding, edited.view());
    }
}

void FlatFields::set_content_length_impl(const boost::optional<std::uint64_t>& length) {
    if (!length) {
        erase(field::content_length);
        return;
    }
    char digits[20];
    const auto end = std::to_chars(digits, digits + sizeof digits, *length).ptr;
    set(field::content_length, std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

void FlatFields::set_keep_alive_impl(unsigned version, bool keep_alive) {
    boost::beast::detail::temporary_buffer edited;
    http::detail::keep_alive_impl(edited, (*this)[field::connection], version, keep_alive);
    if (edited.empty()) {
        erase(field::connection);
    } else {
        set(field::connection, edited.view());
    }
}

}  // namespace easgate::common
