#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "easgate/common/header_arena.hpp"
#include "easgate/common/result.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/eas/eas_request.hpp"
#include "easgate/identity/certificate_identity.hpp"
#include "easgate/upstream/token_source.hpp"

namespace easgate::pipeline {

namespace http = boost::beast::http;

// One device request as the stages see it, before it goes upstream. Stages may rewrite the header
// (e.g. drop the device's own Authorization).
struct RequestContext {
    const identity::CertificateIdentity* identity;  // null: optional mode, device sent no certificate
    common::RequestHeader& header;
    const eas::EasRequest* eas;                          // what the request says about the device
    boost::asio::ip::address peer;                       // the device's address, as easgate sees it
    directory::FoundUser user;                           // set by the directory stage
    std::string_view policy_rule;                        // set by the policy stage: who decided
    std::shared_ptr<upstream::TokenSource> credentials;  // set by the delegation stage
    // For the access log, set by the delegation stage: how long the token took, and whether it came
    // from a cached ticket (no KDC).
    std::chrono::steady_clock::duration delegation_time{};
    bool delegation_from_cache = false;

    // Whose the Exchange connections this request may use are (the upstream pool's key): the
    // directory's account when found (its objectSid, else its DN), since a certificate's UPN need
    // not be its account's (the SID extension or altSecurityIdentities may map it to another); else
    // the certificate's name; "" without a certificate (not pooled).
    std::string_view connection_owner() const;
};

// One step of the filter chain (certificate → directory → delegation): success goes on, a Failure
// is the device's answer.
class RequestStage {
public:
    virtual ~RequestStage() = default;
    // The verdict when the stage has it at hand (what the request carries, a cached answer);
    // nullopt when it must ask the network: then process().
    virtual std::optional<common::Result<>> decide_now(RequestContext& request) = 0;
    // The verdict, asking the network when needed. By default decide_now's: for stages that never wait.
    virtual boost::asio::awaitable<common::Result<>> process(RequestContext& request);
};

// Runs the stages in order; the first failure ends the walk.
class RequestPipeline {
public:
    void add(std::unique_ptr<RequestStage> stage) { stages_.push_back(std::move(stage)); }

    // Where the walk got without waiting: the verdict when every stage gave one at once (or one
    // refused), else nullopt with next set to the first stage that must ask the network.
    std::optional<common::Result<>> run_now(RequestContext& request, std::size_t& next) const;
    // The rest of the walk, from stage `from` on, waiting where a stage must.
    boost::asio::awaitable<common::Result<>> run(RequestContext& request, std::size_t from = 0) const;

private:
    std::vector<std::unique_ptr<RequestStage>> stages_;
};

// In certificate mode the certificate is the credential: the device's own Authorization header
// (Basic with a password, typically) must never reach Exchange. Without a certificate (optional
// mode) the device's header is Exchange's business and passes untouched.
class CertificateAuthStage final : public RequestStage {
public:
    std::optional<common::Result<>> decide_now(RequestContext& request) override;
};

}  // namespace easgate::pipeline
