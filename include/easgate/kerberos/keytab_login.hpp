#pragma once

// easgate's own Kerberos login from its keytab into a ccache in process memory: no kinit, no
// password, nothing on disk. Shared by the directory's GSSAPI bind and the delegation.

#include <krb5/krb5.h>

#include <atomic>
#include <optional>
#include <string>

#include "easgate/kerberos/gss_handles.hpp"

namespace easgate::kerberos {

// A krb5 library context for one short task (krb5 contexts must not be shared between threads).
class Krb5Context {
public:
    Krb5Context() { krb5_init_context(&context_); }
    Krb5Context(const Krb5Context&) = delete;
    Krb5Context& operator=(const Krb5Context&) = delete;
    ~Krb5Context() {
        if (context_ != nullptr) krb5_free_context(context_);
    }
    krb5_context get() const { return context_; }
    std::string message(krb5_error_code code) const;

private:
    krb5_context context_ = nullptr;
};

// A MEMORY ccache of this process, destroyed with its owner so no ticket outlives the login.
// Releasing a credential alone leaves its MEMORY ccache (and the tickets) registered in the process.
class MemoryCcache {
public:
    MemoryCcache() : name_("MEMORY:easgate-" + std::to_string(next_id_++)) {}
    MemoryCcache(const MemoryCcache&) = delete;
    MemoryCcache& operator=(const MemoryCcache&) = delete;
    ~MemoryCcache();
    const std::string& name() const { return name_; }

private:
    static inline std::atomic<unsigned long> next_id_{0};
    std::string name_;
};

struct KeytabLogin {
    GssCred credential;      // null when the login failed
    GssStatus status;        // why it failed
    OM_uint32 lifetime = 0;  // of the TGT, in seconds
    // How far the KDC's clock is ahead of this host's (negative: behind), from the TGT's authtime
    // read as it arrives, to the second; unknown when the login failed. MIT corrects its own KDC
    // requests for it (kdc_timesync), which Exchange does not do for easgate's tokens.
    std::optional<long> kdc_clock_ahead;
};

// "this host's clock is 600 s ahead of the KDC's", "… agrees with the KDC's": kdc_ahead as
// KeytabLogin::kdc_clock_ahead has it.
std::string clock_against_kdc(long kdc_ahead);

// AD's default "Maximum tolerance for computer clock synchronization", and a drift worth a warning.
inline constexpr long kerberos_tolerance_seconds = 300;
inline constexpr long clock_drift_seconds = 60;
enum class KdcClock {
    agrees,    // within a minute
    drifting,  // within Kerberos's tolerance, past a minute
    refused,   // past it: Exchange, whose clock follows the domain's, refuses easgate's tokens
};
KdcClock kdc_clock_verdict(long kdc_ahead);
// How to set this host's clock from the domain's.
extern const char* const kdc_clock_remedy;

// Logs `principal` in with its key from `keytab` (MIT's AS exchange, asked of the KDC) into ccache.
// Blocks for the KDC: never on an I/O thread. Release the credential before the ccache.
KeytabLogin log_in_from_keytab(const std::string& keytab, const std::string& principal,
                               const MemoryCcache& ccache);

}  // namespace easgate::kerberos
