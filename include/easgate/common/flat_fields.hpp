#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/optional/optional.hpp>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <string_view>
#include <utility>

namespace easgate::common {

// A message header's fields as an array in arrival order, each kept as its wire text
// ("Name: value\r\n") in memory of its own from a memory resource (a HeaderArena on the request
// path). It meets Beast's Fields requirements, so Beast's header and message types and its parser
// work on it; unlike basic_fields it keeps no tree ordered by name: a request's dozen or two fields
// are found by a walk, inserting one is a copy and an append, and the writer sends each field's
// text as it is (docs/performance.md, Session 32). Beast's basic_fields moved a repeated name up
// behind its last field; the order among one name's fields, the only one HTTP gives a meaning, is
// the same either way.
class FlatFields {
public:
    using field = boost::beast::http::field;

    // One field. Its text lives as long as the field is in the header.
    class Field {
    public:
        field name() const { return id_; }
        std::string_view name_string() const { return {text_, name_size_}; }
        std::string_view value() const { return {text_ + name_size_ + 2, value_size_}; }
        // "Name: value\r\n", as it goes on the wire.
        std::string_view line() const { return {text_, line_size()}; }

    private:
        friend class FlatFields;
        std::size_t line_size() const { return std::size_t{name_size_} + value_size_ + 4; }

        char* text_;
        std::uint32_t value_size_;
        std::uint16_t name_size_;
        field id_;
    };
    using value_type = Field;
    using const_iterator = const Field*;
    using iterator = const_iterator;

    // A name longer than this is refused by the parser (431) and by insert (std::length_error).
    static constexpr std::size_t max_name_size = 0xffff;

    FlatFields() : FlatFields(std::pmr::get_default_resource()) {}
    explicit FlatFields(std::pmr::memory_resource* memory) : memory_(memory) {}
    // A copy lives on the default resource, as a pmr container's copy does.
    FlatFields(const FlatFields& other);
    FlatFields& operator=(const FlatFields&) = delete;
    ~FlatFields() { drop(); }

    std::pmr::memory_resource* resource() const { return memory_; }

    const_iterator begin() const { return fields_; }
    const_iterator end() const { return fields_ + size_; }
    std::size_t size() const { return size_; }

    // The first such field's value, or "".
    std::string_view operator[](field name) const;
    std::string_view operator[](std::string_view name) const;
    const_iterator find(field name) const;
    const_iterator find(std::string_view name) const;
    std::size_t count(field name) const;
    std::size_t count(std::string_view name) const;
    // The last Transfer-Encoding coding is chunked (as Beast's message::chunked()).
    bool is_chunked() const;

    // At the end, after any of the same name.
    void insert(field name, std::string_view value);
    void insert(std::string_view name, std::string_view value);
    void insert(field name, std::string_view name_string, std::string_view value);
    // Every field of that name replaced by one, at the end.
    void set(field name, std::string_view value);
    void set(std::string_view name, std::string_view value);
    // The field after the erased one.
    const_iterator erase(const_iterator at);
    std::size_t erase(field name);
    std::size_t erase(std::string_view name);
    // Every field `drop` picks, in one pass: erasing them one by one would move the fields after
    // each, which a header of thousands of fields (a hostile device's) makes quadratic.
    template <class Drop>
    std::size_t erase_if(Drop drop);
    void clear();

    // Gives back every byte the header holds, the field array and request line included, and
    // leaves it empty: before a HeaderArena is released under it (drop_header).
    void drop();

protected:
    // Beast's Fields requirements, for http::header and http::message.
    std::string_view get_method_impl() const { return method_; }
    std::string_view get_target_impl() const { return target_or_reason_; }
    std::string_view get_reason_impl() const { return target_or_reason_; }
    bool get_chunked_impl() const { return is_chunked(); }
    bool get_keep_alive_impl(unsigned version) const;
    bool has_content_length_impl() const { return count(field::content_length) > 0; }
    void set_method_impl(std::string_view method) { replace_text(method_, method); }
    void set_target_impl(std::string_view target) { replace_text(target_or_reason_, target); }
    void set_reason_impl(std::string_view reason) { replace_text(target_or_reason_, reason); }
    void set_chunked_impl(bool chunked);
    void set_content_length_impl(const boost::optional<std::uint64_t>& length);
    void set_keep_alive_impl(unsigned version, bool keep_alive);

private:
    void keep_only_last();
    void grow();
    void give_back(const Field& field);
    void replace_text(std::string_view& kept, std::string_view text);

    std::pmr::memory_resource* memory_;
    Field* fields_ = nullptr;
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = 0;
    std::string_view method_;            // only for a method Beast has no verb for
    std::string_view target_or_reason_;  // a request's target, a response's reason phrase
};

template <class Drop>
std::size_t FlatFields::erase_if(Drop drop) {
    Field* kept = fields_;
    for (Field* f = fields_; f != fields_ + size_; ++f) {
        if (drop(std::as_const(*f))) {
            give_back(*f);
        } else {
            *kept++ = *f;
        }
    }
    const auto erased = static_cast<std::size_t>(fields_ + size_ - kept);
    size_ -= static_cast<std::uint32_t>(erased);
    return erased;
}

}  // namespace easgate::common
