#include "shared_directory.hpp"

namespace easgate::doctor {

std::shared_ptr<directory::DirectoryClient> SharedDirectory::client() {
    if (!client_ && config_.directory)
        client_ = std::make_shared<directory::DirectoryClient>(
            *config_.directory, config_.kerberos ? &*config_.kerberos : nullptr);
    return client_;
}

identity::DirectoryCrlReader SharedDirectory::crl_reader() {
    std::shared_ptr<directory::DirectoryClient> directory;
    try {
        directory = client();
    } catch (const config::ConfigError&) {
        return {};  // the directory checks say why
    }
    if (!directory) return {};
    return [directory](const std::string& url, std::chrono::milliseconds timeout) {
        return directory->read_published(url, timeout);
    };
}

}  // namespace easgate::doctor
