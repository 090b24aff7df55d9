#pragma once

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "easgate/common/ip_network.hpp"
#include "easgate/common/text_pattern.hpp"
#include "easgate/config/config.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/eas/eas_request.hpp"
#include "easgate/identity/certificate_identity.hpp"

namespace easgate::pipeline {

// What the policy judges a request by. A null pointer is something the request lacks: no
// certificate (optional client authentication), no directory configured.
struct PolicySubject {
    const identity::CertificateIdentity* identity = nullptr;
    const directory::DirectoryUser* user = nullptr;
    const eas::EasRequest* eas = nullptr;
    boost::asio::ip::address peer;
};

struct PolicyDecision {
    config::PolicyAction action = config::PolicyAction::allow;
    std::string_view rule;  // the matching rule's name, or "default"; lives as long as the policy
};

// The `policy:` section compiled once (patterns, networks, lower-cased names) and immutable after:
// a configuration reload builds a new one and swaps the shared_ptr, requests in flight keep theirs.
// Per-user terms from the directory (e.g. Exchange's msExchMobileAllowedDeviceIDs and
// msExchMobileBlockedDeviceIDs on DirectoryUser) fit in as one more term of Rule or a check before
// the rules.
class DevicePolicy {
public:
    // The configuration was validated at load (patterns compile, networks parse).
    explicit DevicePolicy(const config::PolicyConfig& policy);
    ~DevicePolicy();

    // With use_exchange_device_lists, a device the user's Exchange lists block is denied first;
    // then the first rule whose terms all match, else the default; counted for /metrics.
    PolicyDecision decide(const PolicySubject& subject) const;

    // How often each rule (in order, then "default") decided, for /metrics.
    struct Count {
        std::string_view rule;
        config::PolicyAction action;
        std::uint64_t decisions;
    };
    std::vector<Count> counts() const;

private:
    struct Rule;
    std::vector<Rule> rules_;
    config::PolicyAction default_action_;
    bool use_exchange_device_lists_;
    // One per rule, then the default's and the two Exchange lists'; counters only, so deciding stays
    // lock-free.
    std::unique_ptr<std::atomic<std::uint64_t>[]> decided_;
};

}  // namespace easgate::pipeline
