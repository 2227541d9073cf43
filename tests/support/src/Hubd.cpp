#include "hub/test/Hubd.h"

#include "hub/test/TempDir.h"

#include <utility>

namespace hub::test {

ChildProcess::Options hubdOptions(const TempDir& dir, std::vector<std::string> moreArgs, const std::string& config,
                                  const std::string& portFile) {
    std::vector<std::string> args = {"--config", dir.file(config)};
    args.insert(args.end(), std::make_move_iterator(moreArgs.begin()), std::make_move_iterator(moreArgs.end()));
    return {.args = std::move(args), .portFile = dir.file(portFile)};
}

std::unique_ptr<ChildProcess> startHubd(const std::string& executable, const TempDir& dir, const std::string& hubXml,
                                        std::vector<std::string> moreArgs) {
    dir.write("hub.xml", hubXml);
    return std::make_unique<ChildProcess>(executable, hubdOptions(dir, std::move(moreArgs)));
}

}  // namespace hub::test
