#pragma once

// The directory client the doctor's checks share (CRLs published in AD, the device's account, the
// --user account), made when a check first needs one, as `easgate run` makes it: one pool of
// workers and DC connections for the run, none when no check reads the directory.

#include <memory>

#include "easgate/config/config.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/identity/crl_fetch.hpp"

namespace easgate::doctor {

class SharedDirectory {
public:
    explicit SharedDirectory(const config::Config& config) : config_(config) {}

    // Null without a directory section; throws config::ConfigError when the section can't be
    // used (an unreadable password_file: the directory checks say so).
    std::shared_ptr<directory::DirectoryClient> client();

    // Reads ldap:/// CRL Distribution Points with client(); empty when there is no usable one.
    identity::DirectoryCrlReader crl_reader();

private:
    const config::Config& config_;
    std::shared_ptr<directory::DirectoryClient> client_;
};

}  // namespace easgate::doctor
