#include "easgate/kerberos/gss_handles.hpp"

#include <gssapi/gssapi_krb5.h>

namespace easgate::kerberos {
namespace {

std::string display_status(OM_uint32 code, int type) {
    OM_uint32 minor = 0;
    OM_uint32 message_context = 0;
    GssBuffer text;
    gss_display_status(&minor, code, type, GSS_C_NO_OID, &message_context, text.get());
    return std::string(text.view());
}

}  // namespace

void GssNameRelease::operator()(gss_name_t name) const {
    OM_uint32 minor = 0;
    gss_release_name(&minor, &name);
}

void GssCredRelease::operator()(gss_cred_id_t credential) const {
    OM_uint32 minor = 0;
    gss_release_cred(&minor, &credential);
}

void GssContextRelease::operator()(gss_ctx_id_t context) const {
    OM_uint32 minor = 0;
    gss_delete_sec_context(&minor, &context, GSS_C_NO_BUFFER);
}

GssBuffer::~GssBuffer() {
    OM_uint32 minor = 0;
    gss_release_buffer(&minor, &buffer_);
}

std::string GssStatus::message() const {
    return minor != 0 ? display_status(minor, GSS_C_MECH_CODE) : display_status(major, GSS_C_GSS_CODE);
}

GssName import_principal(const std::string& principal, GssStatus& status) {
    gss_buffer_desc text{principal.size(), const_cast<char*>(principal.data())};
    gss_name_t name = GSS_C_NO_NAME;
    status.major = gss_import_name(&status.minor, &text, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
    return GssName(name);
}

GssName import_krb5_principal(const std::string& principal, GssStatus& status) {
    const GssName name = import_principal(principal, status);
    if (status.failed()) return nullptr;
    gss_name_t mechanism_name = GSS_C_NO_NAME;
    status.major = gss_canonicalize_name(&status.minor, name.get(), gss_mech_krb5, &mechanism_name);
    return GssName(mechanism_name);
}

}  // namespace easgate::kerberos
