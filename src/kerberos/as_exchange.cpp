#include "easgate/kerberos/as_exchange.hpp"

namespace easgate::kerberos {

std::string tcp_frame(std::string_view message) {
    const auto length = static_cast<std::uint32_t>(message.size());
    std::string frame{static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                      static_cast<char>(length >> 8), static_cast<char>(length)};
    return frame.append(message);
}

std::uint32_t tcp_frame_length(const std::array<unsigned char, 4>& prefix) {
    return (std::uint32_t{prefix[0]} << 24) | (std::uint32_t{prefix[1]} << 16) |
           (std::uint32_t{prefix[2]} << 8) | prefix[3];
}

AsExchange::AsExchange(const Krb5Context& context, const std::string& principal, const std::string& keytab)
    : context_(context) {
    if (context_.get() == nullptr) {
        error_ = KRB5_CONFIG_CANTOPEN;
        return;
    }
    error_ = krb5_parse_name(context_.get(), principal.c_str(), &client_);
    if (error_ == 0 && !keytab.empty()) error_ = krb5_kt_resolve(context_.get(), keytab.c_str(), &keytab_);
    if (error_ == 0)
        error_ = krb5_init_creds_init(context_.get(), client_, nullptr, nullptr, 0, nullptr, &login_);
    if (error_ == 0 && keytab_ != nullptr)
        error_ = krb5_init_creds_set_keytab(context_.get(), login_, keytab_);
}

AsExchange::~AsExchange() {
    if (login_ != nullptr) krb5_init_creds_free(context_.get(), login_);
    if (keytab_ != nullptr) krb5_kt_close(context_.get(), keytab_);
    if (client_ != nullptr) krb5_free_principal(context_.get(), client_);
}

std::optional<std::string> AsExchange::next(std::string reply) {
    if (error_ != 0 || login_ == nullptr) return std::nullopt;
    krb5_data in{.magic = 0, .length = static_cast<unsigned>(reply.size()), .data = reply.data()};
    krb5_data out{}, realm{};
    unsigned int flags = 0;
    error_ = krb5_init_creds_step(context_.get(), login_, &in, &out, &realm, &flags);
    std::optional<std::string> request;
    if (error_ == 0 && (flags & KRB5_INIT_CREDS_STEP_FLAG_CONTINUE) != 0)
        request.emplace(out.data, out.length);
    krb5_free_data_contents(context_.get(), &out);
    krb5_free_data_contents(context_.get(), &realm);
    if (!request) {  // ended: a TGT or an error, and no request is left to send
        krb5_init_creds_free(context_.get(), login_);
        login_ = nullptr;
    }
    return request;
}

}  // namespace easgate::kerberos
