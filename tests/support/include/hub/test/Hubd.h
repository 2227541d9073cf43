#pragma once

#include "hub/test/ChildProcess.h"

#include <memory>
#include <string>
#include <vector>

namespace hub::test {

class TempDir;

/// How a test starts hubd on dir's configuration: `--config dir/CONFIG` and
/// `moreArgs`, waiting until hubd has written its port to dir/PORTFILE (which
/// the configuration's <http><portFile> must name, with <port>0</port>).
ChildProcess::Options hubdOptions(const TempDir& dir, std::vector<std::string> moreArgs = {},
                                  const std::string& config = "hub.xml", const std::string& portFile = "hubd.port");

/// Writes `hubXml` to dir/hub.xml and starts `executable` (the test's HUBD_EXE)
/// on it as hubdOptions(dir, moreArgs) says; throws as ChildProcess does when
/// hubd does not come up.
std::unique_ptr<ChildProcess> startHubd(const std::string& executable, const TempDir& dir, const std::string& hubXml,
                                        std::vector<std::string> moreArgs = {});

}  // namespace hub::test
