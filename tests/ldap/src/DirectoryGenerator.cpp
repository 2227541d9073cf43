#include "hub/ldaptest/DirectoryGenerator.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace hub::ldaptest {

namespace {

std::uint64_t mix(std::uint64_t x) {
    // splitmix64: cheap, deterministic, well spread.
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

template <std::size_t N>
const char* pick(const std::array<const char*, N>& a, std::uint64_t h) {
    return a[h % N];
}

const std::array<const char*, 12> chineseSurnames = {"王", "李", "张", "刘", "陈", "杨",
                                                     "黄", "赵", "吴", "周", "欧阳", "司马"};
const std::array<const char*, 12> surnamePinyin = {"Wang", "Li",  "Zhang", "Liu", "Chen",   "Yang",
                                                   "Huang", "Zhao", "Wu", "Zhou", "Ouyang", "Sima"};
const std::array<const char*, 12> chineseGiven = {"伟", "芳", "娜", "敏", "静", "秀英",
                                                  "强", "磊", "晓明", "洋", "艳", "俊杰"};
const std::array<const char*, 12> givenPinyin = {"Wei", "Fang", "Na",   "Min", "Jing", "Xiuying",
                                                 "Qiang", "Lei", "Xiaoming", "Yang", "Yan", "Junjie"};
const std::array<const char*, 10> englishFirst = {"Alice", "Bob",   "Carol", "David", "Emma",
                                                  "Frank", "Grace", "Henry", "Irene", "Jack"};
const std::array<const char*, 10> englishLast = {"Smith", "Johnson", "Brown", "Taylor", "O'Neil",
                                                 "Miller", "Davis", "García", "Müller", "Wilson"};
const std::array<const char*, 12> departmentNames = {"计算机科学系", "数学系", "物理系", "化学系",
                                                     "历史系", "中文系", "经济系", "法学系",
                                                     "医学系", "外语系", "哲学系", "建筑系"};

bool isSafeString(const std::string& v) {
    if (v.empty()) return true;
    auto first = static_cast<unsigned char>(v.front());
    if (first == ' ' || first == ':' || first == '<') return false;
    if (v.back() == ' ') return false;
    for (unsigned char c : v)
        if (c == 0 || c == '\n' || c == '\r' || c >= 0x80) return false;
    return true;
}

}  // namespace

std::string ldifLine(const std::string& attribute, const std::string& value) {
    if (isSafeString(value)) return attribute + ": " + value + "\n";
    std::ostringstream enc;
    Poco::Base64Encoder b64(enc);
    b64.rdbuf()->setLineLength(0);
    b64 << value;
    b64.close();
    return attribute + ":: " + enc.str() + "\n";
}

DirectoryGenerator::DirectoryGenerator(DirectoryShape shape) : shape_(std::move(shape)) {
    if (shape_.schools == 0 || shape_.departmentsPerSchool == 0)
        throw Poco::InvalidArgumentException("a directory needs at least one school and department");
}

std::string DirectoryGenerator::departmentDn(std::size_t school, std::size_t department) const {
    return "ou=Dept " + std::to_string(school) + "." + std::to_string(department) + ",ou=School " +
           std::to_string(school) + ",ou=units," + shape_.suffix;
}

std::string DirectoryGenerator::groupDn(const std::string& cn) const {
    return "cn=" + cn + ",ou=groups," + shape_.suffix;
}

GeneratedPerson DirectoryGenerator::person(std::size_t index) const {
    GeneratedPerson p;
    std::uint64_t h = mix(index);
    char uid[32];
    std::snprintf(uid, sizeof uid, "u%07zu", index);
    p.uid = uid;
    std::size_t departments = shape_.schools * shape_.departmentsPerSchool;
    std::size_t dept = index % departments;
    std::size_t school = dept / shape_.departmentsPerSchool;
    std::size_t deptInSchool = dept % shape_.departmentsPerSchool;
    p.dn = "uid=" + p.uid + "," + departmentDn(school, deptInSchool);
    p.department = departmentNames[dept % departmentNames.size()];
    if (dept >= departmentNames.size()) p.department += std::to_string(dept / departmentNames.size());
    char number[64];
    std::snprintf(number, sizeof number, "D%02zu%02zu", school, deptInSchool);
    p.departmentNumber = number;

    if (h % 3 != 0) {  // two in three are Chinese names, with their pinyin as a second cn
        std::size_t s = (h >> 8) % chineseSurnames.size();
        std::size_t g = (h >> 16) % chineseGiven.size();
        p.sn = chineseSurnames[s];
        p.givenName = chineseGiven[g];
        p.displayName = p.sn + p.givenName;
        p.cn = {p.displayName, std::string(surnamePinyin[s]) + " " + givenPinyin[g]};
    } else {
        p.givenName = pick(englishFirst, h >> 8);
        p.sn = pick(englishLast, h >> 16);
        p.displayName = p.givenName + " " + p.sn;
        p.cn = {p.displayName};
    }
    p.mails.push_back(p.uid + "@campus.example");
    if ((h >> 24) % 4 == 0) p.mails.push_back(p.uid + ".alt@mail.campus.example");
    std::size_t phones = (h >> 28) % 3;
    for (std::size_t k = 0; k < phones; ++k) {
        char phone[64];
        std::snprintf(phone, sizeof phone, "+86 10 6275 %04zu", (index * 7 + k) % 10000);
        p.phones.push_back(phone);
    }
    switch ((h >> 32) % 10) {
        case 0: case 1:
            p.affiliations = {"faculty", "member"};
            p.employeeType = "teacher";
            break;
        case 2:
            p.affiliations = {"staff", "employee", "member"};
            p.employeeType = "staff";
            break;
        case 3:
            p.affiliations = {"faculty", "staff", "member"};
            p.employeeType = "teacher";
            break;
        default:
            p.affiliations = {"student", "member"};
            p.employeeType = "student";
            break;
    }
    return p;
}

void DirectoryGenerator::writePerson(std::ostream& out, const GeneratedPerson& p, bool changeRecord) const {
    out << ldifLine("dn", p.dn);
    if (changeRecord) out << "changetype: add\n";
    out << "objectClass: inetOrgPerson\n";
    if (shape_.eduPerson) out << "objectClass: eduPerson\n";
    out << "uid: " << p.uid << "\n";
    for (const auto& cn : p.cn) out << ldifLine("cn", cn);
    out << ldifLine("sn", p.sn) << ldifLine("givenName", p.givenName) << ldifLine("displayName", p.displayName)
        << ldifLine("ou", p.department) << "departmentNumber: " << p.departmentNumber << "\n"
        << "employeeType: " << p.employeeType << "\n";
    for (const auto& m : p.mails) out << "mail: " << m << "\n";
    for (const auto& t : p.phones) out << "telephoneNumber: " << t << "\n";
    if (shape_.eduPerson)
        for (const auto& a : p.affiliations) out << "eduPersonAffiliation: " << a << "\n";
    out << "\n";
}

std::string DirectoryGenerator::personAddRecord(std::size_t index) const {
    std::ostringstream out;
    writePerson(out, person(index), true);
    return out.str();
}

std::size_t DirectoryGenerator::entryCount() const {
    return 1 + 1 + shape_.schools * (1 + shape_.departmentsPerSchool) + 1 + 2 + shape_.persons;
}

void DirectoryGenerator::writeLdif(std::ostream& out) const {
    std::string dc = shape_.suffix.substr(3, shape_.suffix.find(',') - 3);
    out << "dn: " << shape_.suffix << "\nobjectClass: dcObject\nobjectClass: organization\n"
        << "dc: " << dc << "\n" << ldifLine("o", "示范大学 Campus Example") << "\n";
    out << "dn: ou=units," << shape_.suffix << "\nobjectClass: organizationalUnit\nou: units\n\n";
    for (std::size_t s = 0; s < shape_.schools; ++s) {
        out << "dn: ou=School " << s << ",ou=units," << shape_.suffix
            << "\nobjectClass: organizationalUnit\nou: School " << s << "\n"
            << ldifLine("description", "第" + std::to_string(s) + "学院") << "\n";
        for (std::size_t d = 0; d < shape_.departmentsPerSchool; ++d)
            out << "dn: " << departmentDn(s, d) << "\nobjectClass: organizationalUnit\nou: Dept " << s << "."
                << d << "\n"
                << ldifLine("description",
                            departmentNames[(s * shape_.departmentsPerSchool + d) % departmentNames.size()])
                << "\n";
    }
    out << "dn: ou=groups," << shape_.suffix << "\nobjectClass: organizationalUnit\nou: groups\n\n";
    for (const char* group : {"hall-admins", "approvers"}) {
        out << "dn: " << groupDn(group) << "\nobjectClass: groupOfNames\ncn: " << group << "\n";
        bool any = false;
        for (std::size_t i = 0; i < shape_.persons; ++i) {
            bool member = std::string(group) == "hall-admins" ? isHallAdmin(i) : isApprover(i);
            if (!member) continue;
            out << ldifLine("member", person(i).dn);
            any = true;
        }
        // groupOfNames requires a member.
        if (!any) out << "member: cn=admin," << shape_.suffix << "\n";
        out << "\n";
    }
    for (std::size_t i = 0; i < shape_.persons; ++i) writePerson(out, person(i), false);
}

void DirectoryGenerator::writeLdifFile(const std::string& path) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    writeLdif(out);
    if (!out) throw Poco::IOException("cannot write LDIF", path);
}

}  // namespace hub::ldaptest
