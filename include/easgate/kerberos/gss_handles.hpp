#pragma once

// Owning handles for MIT GSSAPI objects, so every name, credential, context and buffer is released
// on every path (the ASan build checks this).

#include <gssapi/gssapi.h>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace easgate::kerberos {

struct GssNameRelease {
    void operator()(gss_name_t name) const;
};
struct GssCredRelease {
    void operator()(gss_cred_id_t credential) const;
};
struct GssContextRelease {
    void operator()(gss_ctx_id_t context) const;
};

using GssName = std::unique_ptr<std::remove_pointer_t<gss_name_t>, GssNameRelease>;
using GssCred = std::unique_ptr<std::remove_pointer_t<gss_cred_id_t>, GssCredRelease>;
using GssContext = std::unique_ptr<std::remove_pointer_t<gss_ctx_id_t>, GssContextRelease>;

// An output buffer filled by GSSAPI and released by it.
class GssBuffer {
public:
    GssBuffer() = default;
    GssBuffer(const GssBuffer&) = delete;
    GssBuffer& operator=(const GssBuffer&) = delete;
    ~GssBuffer();

    gss_buffer_t get() { return &buffer_; }
    std::string_view view() const { return {static_cast<const char*>(buffer_.value), buffer_.length}; }

private:
    gss_buffer_desc buffer_{0, nullptr};
};

// What a GSSAPI call returned. With the krb5 mechanism the minor status is the krb5 error code.
struct GssStatus {
    OM_uint32 major = GSS_S_COMPLETE;
    OM_uint32 minor = 0;

    bool failed() const { return GSS_ERROR(major); }
    // The minor status as krb5 words it ("KDC can't fulfill requested option"), else the major one.
    std::string message() const;
};

// A Kerberos principal name ("alice@EXAMPLE.TEST", "HTTP/mail.example.test@EXAMPLE.TEST"), taken
// literally: no host-based canonicalisation, so the KDC sees exactly this name.
GssName import_principal(const std::string& principal, GssStatus& status);

// The same, as a krb5 mechanism name: a generic name is imported into the mechanism again (each
// time with a krb5 context of its own, which re-checks krb5.conf on disk) by every call it is given to.
GssName import_krb5_principal(const std::string& principal, GssStatus& status);

}  // namespace easgate::kerberos
