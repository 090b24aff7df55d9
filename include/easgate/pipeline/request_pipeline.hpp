#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "easgate/identity/certificate_identity.hpp"

namespace easgate::pipeline {

namespace http = boost::beast::http;

// One device request as the stages see it, before it goes upstream. Stages may rewrite the header
// (e.g. put the delegated Negotiate token in Authorization).
struct RequestContext {
    const identity::CertificateIdentity* identity;  // null: optional mode, device sent no certificate
    boost::asio::ip::tcp::endpoint peer;
    http::request_header<>& header;
};

// A stage's answer: go on, or answer the device with this status and a reason for the log.
struct Verdict {
    unsigned status = 0;  // 0: proceed
    std::string reason;

    bool proceeds() const { return status == 0; }
    static Verdict proceed() { return {}; }
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
