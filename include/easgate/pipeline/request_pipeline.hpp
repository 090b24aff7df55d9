#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "easgate/delegation/delegation_service.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/identity/certificate_identity.hpp"

namespace easgate::pipeline {

namespace http = boost::beast::http;

// Left by the delegation stage for the upstream step, which decides when the token goes with the
// request (send_authorization, authenticate) and may make another one, bound to the upstream TLS
// connection once it exists (Extended Protection).
struct DelegatedUser {
    std::shared_ptr<delegation::DelegationService> service;
    std::string user_principal;
    std::string target_spn;
    std::string negotiate_token;  // unbound, base64: "Authorization: Negotiate <negotiate_token>"

    // From the cached service ticket: no KDC round trip.
    boost::asio::awaitable<delegation::DelegationResult> token(std::string channel_binding) const {
        return service->negotiate_token(user_principal, target_spn, std::move(channel_binding));
    }
};

// One device request as the stages see it, before it goes upstream. Stages may rewrite the header
// (e.g. drop the device's own Authorization).
struct RequestContext {
    const identity::CertificateIdentity* identity;  // null: optional mode, device sent no certificate
    boost::asio::ip::tcp::endpoint peer;
    http::request_header<>& header;
    std::optional<directory::DirectoryUser> user;  // set by the directory stage
    std::optional<DelegatedUser> delegated;        // set by the delegation stage
};

// A stage's answer: go on, or answer the device with this status and a reason for the log.
struct Verdict {
    unsigned status = 0;  // 0: proceed
    std::string reason;
    unsigned retry_after_seconds = 0;  // with 503: when the device should try again (EAS clients honour it)

    bool proceeds() const { return status == 0; }
    static Verdict proceed() { return {}; }
    static Verdict refuse(std::string reason) { return {403, std::move(reason), 0}; }
    // Our infrastructure failed, not the user: the device keeps its account and retries later.
    static Verdict unavailable(std::string reason) { return {503, std::move(reason), 30}; }
    // What Exchange would refuse: the device can't fix it, the administrator can.
    static Verdict bad_gateway(std::string reason) { return {502, std::move(reason), 0}; }
};

// One step of the filter chain (identity → directory → policy → delegation).
class RequestStage {
public:
    virtual ~RequestStage() = default;
    virtual std::string_view name() const = 0;
    virtual boost::asio::awaitable<Verdict> process(RequestContext& request) = 0;
};

// Runs the stages in order; the first refusal ends the walk.
class RequestPipeline {
public:
    void add(std::unique_ptr<RequestStage> stage) { stages_.push_back(std::move(stage)); }
    boost::asio::awaitable<Verdict> run(RequestContext& request) const;

private:
    std::vector<std::unique_ptr<RequestStage>> stages_;
};

// In certificate mode the certificate is the credential: the device's own Authorization header
// (Basic with a password, typically) must never reach Exchange. Without a certificate (optional
// mode) the device's header is Exchange's business and passes untouched.
class CertificateAuthStage final : public RequestStage {
public:
    std::string_view name() const override { return "certificate"; }
    boost::asio::awaitable<Verdict> process(RequestContext& request) override;
};

}  // namespace easgate::pipeline
