#pragma once

#include <memory>

#include "easgate/directory/directory_client.hpp"
#include "easgate/pipeline/request_pipeline.hpp"

namespace easgate::pipeline {

// Seed step 2: the certificate's user must exist in Active Directory, be enabled, and be allowed
// to be delegated. Puts the directory's view of the user into the request for later stages.
class DirectoryStage final : public RequestStage {
public:
    explicit DirectoryStage(std::shared_ptr<directory::DirectoryClient> directory)
        : directory_(std::move(directory)) {}
    boost::asio::awaitable<common::Result<>> process(RequestContext& request) override;

private:
    std::shared_ptr<directory::DirectoryClient> directory_;
};

}  // namespace easgate::pipeline
