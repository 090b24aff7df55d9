#pragma once

#include <memory>

#include "easgate/directory/certificate_mapping.hpp"
#include "easgate/pipeline/request_pipeline.hpp"

namespace easgate::pipeline {

// The certificate's user must have an account in Active Directory (found the ways identity.mapping
// says, as strongly as identity.strong_mapping asks) that may use easgate: enabled, not locked out
// or expired, delegable. Puts the directory's view of the user into the request for later stages.
class DirectoryStage final : public RequestStage {
public:
    explicit DirectoryStage(std::shared_ptr<const directory::CertificateMapping> mapping)
        : mapping_(std::move(mapping)) {}
    std::optional<common::Result<>> decide_now(RequestContext& request) override;
    boost::asio::awaitable<common::Result<>> process(RequestContext& request) override;

private:
    std::shared_ptr<const directory::CertificateMapping> mapping_;
};

}  // namespace easgate::pipeline
