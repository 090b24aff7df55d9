#pragma once

// An AS exchange (a login for a TGT) whose messages the caller carries to a KDC of its choosing,
// over TCP: the doctor asks each KDC of krb5.conf on its own, and KdcWatch sends only the first
// request to tell a hung KDC from one that answers. krb5's own logins ask the KDCs in order.

#include <krb5/krb5.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "easgate/kerberos/keytab_login.hpp"

namespace easgate::kerberos {

// Kerberos over TCP puts each message after its length, 4 bytes big-endian (RFC 4120 7.2.2).
std::string tcp_frame(std::string_view message);
std::uint32_t tcp_frame_length(const std::array<unsigned char, 4>& prefix);

class AsExchange {
public:
    // Without a keytab only the first request can be made (the KDC answers it by asking for
    // preauthentication, which takes the key): enough to see that a KDC answers.
    AsExchange(const Krb5Context& context, const std::string& principal, const std::string& keytab = "");
    AsExchange(const AsExchange&) = delete;
    AsExchange& operator=(const AsExchange&) = delete;
    ~AsExchange();

    // The request to send next, given the KDC's reply to the last one ("" at first); nullopt once
    // the exchange ended: a TGT when error() is 0.
    std::optional<std::string> next(std::string reply);
    krb5_error_code error() const { return error_; }

private:
    const Krb5Context& context_;
    krb5_principal client_ = nullptr;
    krb5_keytab keytab_ = nullptr;
    krb5_init_creds_context login_ = nullptr;
    krb5_error_code error_ = 0;
};

}  // namespace easgate::kerberos
