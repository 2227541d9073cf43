#!/usr/bin/env python3
"""Writes the hall's service flows, config/flows/*.bpmn, as Camunda Modeler 5
saves them for "Camunda 8" (Zeebe extension namespace, bpmndi diagram).

The committed .bpmn files are the source of truth: a process designer opens
and edits them in the modeler. This script only produced their first version
from the compact descriptions below (a grid position per node, lanes per
department) so the diagrams are laid out left to right without overlaps; run
it again only to regenerate every file from scratch:

    scripts/gen-hall-flows.py [--check] [OUTDIR]

--check compares with what is committed instead of writing (exit 1 on a
difference). See docs/flows/hall-flows.md for what each flow does.
"""
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# --- layout ---------------------------------------------------------------
POOL_X = 160          # participant's left edge; its name band is 30 wide
LANE_X = POOL_X + 30
COL0_X = LANE_X + 80  # centre x of column 0
COL_PITCH = 170
ROW_PITCH = 130
LANE_PAD = 65         # centre of row 0 below the lane's top edge
SIZES = {"event": (36, 36), "task": (100, 80), "gateway": (50, 50)}
KIND_SHAPE = {
    "start": "event", "end": "event", "terminate": "event", "message-catch": "event",
    "timer-catch": "event", "service": "task", "user": "task", "receive": "task",
    "exclusive": "gateway", "parallel": "gateway", "inclusive": "gateway",
}
TAG = {
    "start": "startEvent", "end": "endEvent", "terminate": "endEvent",
    "message-catch": "intermediateCatchEvent", "timer-catch": "intermediateCatchEvent",
    "service": "serviceTask", "user": "userTask", "receive": "receiveTask",
    "exclusive": "exclusiveGateway", "parallel": "parallelGateway", "inclusive": "inclusiveGateway",
}

APPROVE = '= decision = "approve"'
REJECT = '= decision = "reject"'
RETURN = '= decision = "return_for_supplement"'
UNIT_HEAD = '= "dept:" + applicant.department + ":head"'
WORKING_DAYS = [("calendar", "working-days")]


def node(id, kind, name, col, lane=None, row=0, **extra):
    d = {"id": id, "kind": kind, "name": name, "col": col, "lane": lane, "row": row}
    d.update(extra)
    return d


def reminder(id, task, duration, name, interrupting=False, properties=WORKING_DAYS):
    """A timer boundary event on `task` (non-interrupting by default)."""
    return {"id": id, "kind": "boundary-timer", "name": name, "attachedTo": task,
            "duration": duration, "interrupting": interrupting, "properties": properties}


def error_boundary(id, task, error, name):
    return {"id": id, "kind": "boundary-error", "name": name, "attachedTo": task, "error": error}


def flow(id, source, target, name=None, condition=None, default=False, route=None):
    """route="join": leave to the right and enter the target from above or
    below (instead of leaving a gateway through its corner)."""
    return {"id": id, "source": source, "target": target, "name": name,
            "condition": condition, "default": default, "route": route}


# --- the flows -------------------------------------------------------------
FLOWS = []

# 在读证明: automatic, done in seconds.
FLOWS.append({
    "id": "enrolment-certificate", "name": "在读证明", "participant": "学生工作处 在读证明",
    "doc": "Enrolment certificate, automatic: look the student up in the student affairs "
           "system, check the status, issue the certificate.",
    "lanes": [],
    "errors": [("Error_StudentNotFound", "学生不存在", "not_found")],
    "nodes": [
        node("StartEvent_Submitted", "start", "提交申请", 0),
        node("Task_LookupStudent", "service", "查询学籍", 1,
             task="student_affairs.get_student", retries=3,
             inputs=[("= form.student_id", "student_id")],
             outputs=[("= status", "student_status"), ("= name", "student_name")]),
        node("Gateway_Status", "exclusive", "在读？", 2, default="Flow_NotEnrolled"),
        node("Task_IssueCertificate", "service", "签发在读证明", 3,
             task="student_affairs.enrolment_certificate", retries=3,
             inputs=[("= form.student_id", "student_id"), ("= form.purpose", "purpose")],
             outputs=[("= certificate_no", "certificate_no")]),
        node("EndEvent_Issued", "end", "已签发", 4),
        node("EndEvent_NotEnrolled", "end", "非在读，不予开具", 3, row=1),
        node("EndEvent_NotFound", "end", "查无此人", 2, row=2),
    ],
    "boundaries": [error_boundary("Event_StudentNotFound", "Task_LookupStudent", "Error_StudentNotFound", "学生不存在")],
    "flows": [
        flow("Flow_Start", "StartEvent_Submitted", "Task_LookupStudent"),
        flow("Flow_ToStatus", "Task_LookupStudent", "Gateway_Status"),
        flow("Flow_Enrolled", "Gateway_Status", "Task_IssueCertificate", "在读", '= student_status = "enrolled"'),
        flow("Flow_NotEnrolled", "Gateway_Status", "EndEvent_NotEnrolled", "其他状态", default=True),
        flow("Flow_Issued", "Task_IssueCertificate", "EndEvent_Issued"),
        flow("Flow_NotFound", "Event_StudentNotFound", "EndEvent_NotFound"),
    ],
})


def parallel_review(key, lane, task_name, group, col):
    """One branch of the travel flow's joint review: task, reminder, decision."""
    var = f"{key}_decision"
    return (
        [node(f"Task_{key.title()}Review", "user", task_name, col, lane, candidateGroups=group,
              outputs=[("= decision", var), ("= comment", f"{key}_comment")]),
         node(f"Gateway_{key.title()}Decision", "exclusive", "同意？", col + 1, lane,
              default=f"Flow_{key.title()}Rejected"),
         node(f"EndEvent_{key.title()}Rejected", "terminate", "驳回，终止", col + 1, lane, row=1),
         node(f"EndEvent_{key.title()}Reminded", "end", "已催办", col + 0.55, lane, row=1)],
        [reminder(f"Event_{key.title()}Reminder", f"Task_{key.title()}Review", "P3D", "3个工作日未处理")],
        [flow(f"Flow_{key.title()}ToDecision", f"Task_{key.title()}Review", f"Gateway_{key.title()}Decision"),
         flow(f"Flow_{key.title()}Approved", f"Gateway_{key.title()}Decision", "Gateway_JoinReview", "同意",
              f'= {var} = "approve"', route=None if lane == "Lane_International" else "join"),
         flow(f"Flow_{key.title()}Rejected", f"Gateway_{key.title()}Decision",
              f"EndEvent_{key.title()}Rejected", "驳回或退回", default=True),
         flow(f"Flow_{key.title()}Remind", f"Event_{key.title()}Reminder", f"EndEvent_{key.title()}Reminded")],
    )


travel_nodes = [
    node("StartEvent_Submitted", "start", "提交申请", 0, "Lane_Unit"),
    node("Gateway_ForkReview", "inclusive", "会签", 1, "Lane_Unit"),
    node("Gateway_JoinReview", "inclusive", "会签完成", 4, "Lane_International"),
    node("Task_RecordApproval", "service", "登记出访批件", 5, "Lane_International",
         task="international.record_travel_approval", retries=3,
         inputs=[("= form.destination", "destination"), ("= form.departure", "departure"),
                 ("= form.days", "days")],
         outputs=[("= approval_no", "approval_no")]),
    node("EndEvent_Approved", "end", "审批通过", 6, "Lane_International"),
]
travel_boundaries, travel_flows = [], [
    flow("Flow_Start", "StartEvent_Submitted", "Gateway_ForkReview"),
    flow("Flow_ToUnit", "Gateway_ForkReview", "Task_UnitReview", "所在单位", "= true"),
    flow("Flow_ToInternational", "Gateway_ForkReview", "Task_InternationalReview", "国际处", "= true"),
    flow("Flow_ToHr", "Gateway_ForkReview", "Task_HrReview", "人事处", "= true"),
    flow("Flow_ToPresident", "Gateway_ForkReview", "Task_PresidentReview", "超过30天", "= form.days > 30"),
    flow("Flow_Joined", "Gateway_JoinReview", "Task_RecordApproval"),
    flow("Flow_Recorded", "Task_RecordApproval", "EndEvent_Approved"),
]
for key, lane, name, group in [
        ("unit", "Lane_Unit", "所在单位审核", UNIT_HEAD),
        ("international", "Lane_International", "国际处审核", "dept:international-office:clerk"),
        ("hr", "Lane_Hr", "人事处审核", "dept:human-resources:clerk"),
        ("president", "Lane_President", "校长办公室审批", "dept:president-office:head")]:
    n, b, f = parallel_review(key, lane, name, group, 2)
    travel_nodes += n
    travel_boundaries += b
    travel_flows += f

FLOWS.append({
    "id": "travel-abroad", "name": "因公出国（境）审批", "participant": "因公出国（境）审批",
    "doc": "Official travel abroad: the applicant's unit, the international office and HR "
           "review in parallel; more than 30 days adds the president's office. Any "
           "rejection ends the flow at once. Each review reminds after 3 working days.",
    "lanes": [("Lane_Unit", "申请人所在单位", 2), ("Lane_International", "国际交流合作处", 2),
              ("Lane_Hr", "人事处", 2), ("Lane_President", "党委办公室（校长办公室）", 2)],
    "nodes": travel_nodes, "boundaries": travel_boundaries, "flows": travel_flows,
})

# 差旅报销: amount tiers.
FLOWS.append({
    "id": "reimbursement", "name": "差旅报销", "participant": "差旅报销",
    "doc": "Travel and expense reimbursement. Up to 5,000 CNY the finance office alone "
           "reviews; above it the applicant's unit head first; above 50,000 also the "
           "finance office's head. Approved claims are posted as a voucher.",
    "lanes": [("Lane_Applicant", "申请人", 1), ("Lane_Unit", "申请人所在单位", 1),
              ("Lane_Finance", "财务处", 3)],
    "nodes": [
        node("StartEvent_Submitted", "start", "提交报销", 0, "Lane_Applicant"),
        node("Gateway_Resubmitted", "exclusive", None, 1, "Lane_Applicant"),
        node("Task_Supplement", "user", "补充材料", 4, "Lane_Applicant", assignee="= applicant.id"),
        node("Gateway_Amount", "exclusive", "报销金额", 2, "Lane_Unit", default="Flow_Small"),
        node("Task_HeadReview", "user", "单位负责人审批", 3, "Lane_Unit", candidateGroups=UNIT_HEAD),
        node("Gateway_HeadDecision", "exclusive", "审批结果", 4, "Lane_Unit", default="Flow_HeadRejected"),
        node("Gateway_Large", "exclusive", "超过5万元？", 5, "Lane_Unit", default="Flow_NotLarge"),
        node("Task_FinanceHeadReview", "user", "财务处处长审批", 6, "Lane_Finance", row=1,
             candidateGroups="dept:finance:head"),
        node("Gateway_FinanceHeadDecision", "exclusive", "审批结果", 7, "Lane_Finance", row=1,
             default="Flow_FinanceHeadRejected"),
        node("Gateway_ToAudit", "exclusive", None, 8, "Lane_Finance"),
        node("Task_FinanceAudit", "user", "财务审核", 9, "Lane_Finance", candidateGroups="dept:finance:clerk"),
        node("Gateway_AuditDecision", "exclusive", "审核结果", 10, "Lane_Finance", default="Flow_AuditRejected"),
        node("Task_PostVoucher", "service", "生成记账凭证", 11, "Lane_Finance",
             task="finance.create_voucher", retries=3,
             inputs=[("= form.amount", "amount"), ("= applicant.id", "payee")],
             outputs=[("= voucher_no", "voucher_no")]),
        node("EndEvent_Paid", "end", "报销完成", 12, "Lane_Finance"),
        node("EndEvent_Rejected", "end", "不予报销", 11, "Lane_Finance", row=2),
    ],
    "boundaries": [reminder("Event_AuditReminder", "Task_FinanceAudit", "P3D", "3个工作日未审核")],
    "extra_nodes_after": [node("EndEvent_AuditReminded", "end", "已催办", 9.55, "Lane_Finance", row=1)],
    "flows": [
        flow("Flow_Start", "StartEvent_Submitted", "Gateway_Resubmitted"),
        flow("Flow_ToAmount", "Gateway_Resubmitted", "Gateway_Amount"),
        flow("Flow_Small", "Gateway_Amount", "Gateway_ToAudit", "5000元及以下", default=True),
        flow("Flow_Medium", "Gateway_Amount", "Task_HeadReview", "超过5000元", "= form.amount > 5000"),
        flow("Flow_HeadToDecision", "Task_HeadReview", "Gateway_HeadDecision"),
        flow("Flow_HeadApproved", "Gateway_HeadDecision", "Gateway_Large", "同意", APPROVE),
        flow("Flow_HeadReturned", "Gateway_HeadDecision", "Task_Supplement", "退回补充", RETURN),
        flow("Flow_HeadRejected", "Gateway_HeadDecision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_Large", "Gateway_Large", "Task_FinanceHeadReview", "超过5万元", "= form.amount > 50000"),
        flow("Flow_NotLarge", "Gateway_Large", "Gateway_ToAudit", "5万元及以下", default=True, route="join"),
        flow("Flow_FinanceHeadToDecision", "Task_FinanceHeadReview", "Gateway_FinanceHeadDecision"),
        flow("Flow_FinanceHeadApproved", "Gateway_FinanceHeadDecision", "Gateway_ToAudit", "同意", APPROVE),
        flow("Flow_FinanceHeadRejected", "Gateway_FinanceHeadDecision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_ToAudit", "Gateway_ToAudit", "Task_FinanceAudit"),
        flow("Flow_AuditToDecision", "Task_FinanceAudit", "Gateway_AuditDecision"),
        flow("Flow_AuditApproved", "Gateway_AuditDecision", "Task_PostVoucher", "审核通过", APPROVE),
        flow("Flow_AuditReturned", "Gateway_AuditDecision", "Task_Supplement", "退回补充", RETURN),
        flow("Flow_AuditRejected", "Gateway_AuditDecision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_Posted", "Task_PostVoucher", "EndEvent_Paid"),
        flow("Flow_Resubmit", "Task_Supplement", "Gateway_Resubmitted", "重新提交"),
        flow("Flow_AuditRemind", "Event_AuditReminder", "EndEvent_AuditReminded"),
    ],
})

# 实验室准入: safety-training check, then the lab manager.
FLOWS.append({
    "id": "lab-access", "name": "实验室准入", "participant": "实验室准入",
    "doc": "Laboratory access: the lab safety system confirms the applicant passed the "
           "safety training, then the laboratory manager decides; access is granted in "
           "the door system.",
    "lanes": [],
    "nodes": [
        node("StartEvent_Submitted", "start", "提交申请", 0),
        node("Task_CheckTraining", "service", "核验安全培训", 1,
             task="labs.check_safety_training", retries=3,
             inputs=[("= applicant.id", "person_id"), ("= form.lab", "lab")],
             outputs=[("= passed", "training_passed"), ("= expires", "training_expires")]),
        node("Gateway_Trained", "exclusive", "培训合格？", 2, default="Flow_NotTrained"),
        node("Task_ManagerReview", "user", "实验室负责人审批", 3, candidateGroups="dept:lab-management:manager"),
        node("Gateway_Decision", "exclusive", "审批结果", 4, default="Flow_Rejected"),
        node("Task_GrantAccess", "service", "开通门禁", 5,
             task="labs.grant_access", retries=3,
             inputs=[("= applicant.id", "person_id"), ("= form.lab", "lab")]),
        node("EndEvent_Granted", "end", "准入开通", 6),
        node("EndEvent_NotTrained", "end", "未通过安全培训", 3, row=2),
        node("EndEvent_Rejected", "end", "不予准入", 5, row=2),
        node("EndEvent_Reminded", "end", "已催办", 3.55, row=1),
    ],
    "boundaries": [reminder("Event_ManagerReminder", "Task_ManagerReview", "P2D", "2个工作日未审批")],
    "flows": [
        flow("Flow_Start", "StartEvent_Submitted", "Task_CheckTraining"),
        flow("Flow_ToTrained", "Task_CheckTraining", "Gateway_Trained"),
        flow("Flow_Trained", "Gateway_Trained", "Task_ManagerReview", "合格", "= training_passed = true"),
        flow("Flow_NotTrained", "Gateway_Trained", "EndEvent_NotTrained", "不合格", default=True),
        flow("Flow_ToDecision", "Task_ManagerReview", "Gateway_Decision"),
        flow("Flow_Approved", "Gateway_Decision", "Task_GrantAccess", "同意", APPROVE),
        flow("Flow_Rejected", "Gateway_Decision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_Granted", "Task_GrantAccess", "EndEvent_Granted"),
        flow("Flow_Remind", "Event_ManagerReminder", "EndEvent_Reminded"),
    ],
})

# 宿舍报修: work order in the logistics system, wait for its completion.
FLOWS.append({
    "id": "dorm-repair", "name": "宿舍报修", "participant": "宿舍报修",
    "doc": "Dormitory repair: a work order is created in the logistics system; the flow "
           "waits for the system's completion message. After 3 working days without it "
           "the logistics office's clerk follows the order up, then the flow waits again.",
    "lanes": [],
    "messages": [("Message_WorkOrderCompleted", "logistics.work_order_completed", "= work_order_id")],
    "nodes": [
        node("StartEvent_Submitted", "start", "提交报修", 0),
        node("Task_CreateWorkOrder", "service", "创建维修工单", 1,
             task="logistics.create_work_order", retries=3,
             inputs=[("= form.building", "building"), ("= form.room", "room"),
                     ("= form.problem", "problem"), ("= form.details", "details"),
                     ("= form.phone", "phone")],
             outputs=[("= work_order_id", "work_order_id")]),
        node("Task_AwaitCompletion", "receive", "等待维修完成", 2, message="Message_WorkOrderCompleted"),
        node("EndEvent_Repaired", "end", "维修完成", 3),
        node("Task_FollowUp", "user", "后勤督办", 3, row=1, candidateGroups="dept:logistics:clerk"),
    ],
    "boundaries": [reminder("Event_Overdue", "Task_AwaitCompletion", "P3D", "3个工作日未完成",
                            interrupting=True)],
    "flows": [
        flow("Flow_Start", "StartEvent_Submitted", "Task_CreateWorkOrder"),
        flow("Flow_Created", "Task_CreateWorkOrder", "Task_AwaitCompletion"),
        flow("Flow_Completed", "Task_AwaitCompletion", "EndEvent_Repaired"),
        flow("Flow_Overdue", "Event_Overdue", "Task_FollowUp"),
        flow("Flow_WaitAgain", "Task_FollowUp", "Task_AwaitCompletion", "继续等待"),
    ],
})

# 用印申请: sequential review with returns.
FLOWS.append({
    "id": "seal-use", "name": "用印申请", "participant": "用印申请",
    "doc": "Official seal use: the applicant's unit head, then the President's Office "
           "reviews; the office seals the document and records it. Either review may "
           "return the application for supplement.",
    "lanes": [("Lane_Applicant", "申请人", 1), ("Lane_Unit", "申请人所在单位", 1),
              ("Lane_President", "党委办公室（校长办公室）", 2)],
    "nodes": [
        node("StartEvent_Submitted", "start", "提交申请", 0, "Lane_Applicant"),
        node("Gateway_Resubmitted", "exclusive", None, 1, "Lane_Applicant"),
        node("Task_Supplement", "user", "补充材料", 3.5, "Lane_Applicant", assignee="= applicant.id"),
        node("Task_UnitReview", "user", "单位负责人审核", 2, "Lane_Unit", candidateGroups=UNIT_HEAD),
        node("Gateway_UnitDecision", "exclusive", "审核结果", 3, "Lane_Unit", default="Flow_UnitRejected"),
        node("Task_OfficeReview", "user", "校办审核", 4, "Lane_President",
             candidateGroups="dept:president-office:clerk"),
        node("Gateway_OfficeDecision", "exclusive", "审核结果", 5, "Lane_President", default="Flow_OfficeRejected"),
        node("Task_Seal", "user", "用印并登记", 6, "Lane_President", candidateGroups="dept:president-office:clerk"),
        node("EndEvent_Sealed", "end", "用印完成", 7, "Lane_President"),
        node("EndEvent_Rejected", "end", "不予用印", 6, "Lane_President", row=2),
        node("EndEvent_Reminded", "end", "已催办", 4.55, "Lane_President", row=1),
    ],
    "boundaries": [reminder("Event_OfficeReminder", "Task_OfficeReview", "P2D", "2个工作日未审核")],
    "flows": [
        flow("Flow_Start", "StartEvent_Submitted", "Gateway_Resubmitted"),
        flow("Flow_ToUnit", "Gateway_Resubmitted", "Task_UnitReview"),
        flow("Flow_UnitToDecision", "Task_UnitReview", "Gateway_UnitDecision"),
        flow("Flow_UnitApproved", "Gateway_UnitDecision", "Task_OfficeReview", "同意", APPROVE),
        flow("Flow_UnitReturned", "Gateway_UnitDecision", "Task_Supplement", "退回补充", RETURN),
        flow("Flow_UnitRejected", "Gateway_UnitDecision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_OfficeToDecision", "Task_OfficeReview", "Gateway_OfficeDecision"),
        flow("Flow_OfficeApproved", "Gateway_OfficeDecision", "Task_Seal", "同意", APPROVE),
        flow("Flow_OfficeReturned", "Gateway_OfficeDecision", "Task_Supplement", "退回补充", RETURN),
        flow("Flow_OfficeRejected", "Gateway_OfficeDecision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_Sealed", "Task_Seal", "EndEvent_Sealed"),
        flow("Flow_Resubmit", "Task_Supplement", "Gateway_Resubmitted", "重新提交"),
        flow("Flow_Remind", "Event_OfficeReminder", "EndEvent_Reminded"),
    ],
})

# 研究生请假: supervisor, then the graduate school beyond 7 days.
FLOWS.append({
    "id": "graduate-leave", "name": "研究生请假", "participant": "研究生请假",
    "doc": "Graduate student leave: the supervisor decides; leave of more than 7 days "
           "also needs the graduate school. Returns go back to the student.",
    "lanes": [("Lane_Applicant", "申请人", 1), ("Lane_Supervisor", "导师", 1),
              ("Lane_Graduate", "研究生院", 2)],
    "nodes": [
        node("StartEvent_Submitted", "start", "提交请假", 0, "Lane_Applicant"),
        node("Gateway_Resubmitted", "exclusive", None, 1, "Lane_Applicant"),
        node("Task_Supplement", "user", "补充说明", 4, "Lane_Applicant", assignee="= applicant.id"),
        node("Task_SupervisorReview", "user", "导师审批", 2, "Lane_Supervisor", assignee="= form.supervisor_id"),
        node("Gateway_SupervisorDecision", "exclusive", "审批结果", 3, "Lane_Supervisor",
             default="Flow_SupervisorRejected"),
        node("Gateway_Long", "exclusive", "超过7天？", 4, "Lane_Supervisor", default="Flow_Short"),
        node("Task_SchoolReview", "user", "研究生院审批", 5, "Lane_Graduate",
             candidateGroups="dept:graduate-school:clerk"),
        node("Gateway_SchoolDecision", "exclusive", "审批结果", 6, "Lane_Graduate", default="Flow_SchoolRejected"),
        node("EndEvent_Approved", "end", "准假", 7, "Lane_Graduate"),
        node("EndEvent_Rejected", "end", "不准假", 7, "Lane_Graduate", row=2),
        node("EndEvent_Reminded", "end", "已催办", 5.55, "Lane_Graduate", row=1),
    ],
    "boundaries": [reminder("Event_SchoolReminder", "Task_SchoolReview", "P2D", "2个工作日未审批")],
    "flows": [
        flow("Flow_Start", "StartEvent_Submitted", "Gateway_Resubmitted"),
        flow("Flow_ToSupervisor", "Gateway_Resubmitted", "Task_SupervisorReview"),
        flow("Flow_SupervisorToDecision", "Task_SupervisorReview", "Gateway_SupervisorDecision"),
        flow("Flow_SupervisorApproved", "Gateway_SupervisorDecision", "Gateway_Long", "同意", APPROVE),
        flow("Flow_SupervisorReturned", "Gateway_SupervisorDecision", "Task_Supplement", "退回补充", RETURN),
        flow("Flow_SupervisorRejected", "Gateway_SupervisorDecision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_Long", "Gateway_Long", "Task_SchoolReview", "超过7天", "= form.days > 7"),
        flow("Flow_Short", "Gateway_Long", "EndEvent_Approved", "7天以内", default=True, route="join"),
        flow("Flow_SchoolToDecision", "Task_SchoolReview", "Gateway_SchoolDecision"),
        flow("Flow_SchoolApproved", "Gateway_SchoolDecision", "EndEvent_Approved", "同意", APPROVE),
        flow("Flow_SchoolReturned", "Gateway_SchoolDecision", "Task_Supplement", "退回补充", RETURN),
        flow("Flow_SchoolRejected", "Gateway_SchoolDecision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_Resubmit", "Task_Supplement", "Gateway_Resubmitted", "重新提交"),
        flow("Flow_Remind", "Event_SchoolReminder", "EndEvent_Reminded"),
    ],
})

# 访问学者接待: host unit, then international office, security and logistics in parallel.
FLOWS.append({
    "id": "visiting-scholar", "name": "访问学者接待", "participant": "访问学者接待",
    "doc": "Visiting scholar reception: the host unit reviews first; then the international "
           "office, the security office (campus access) and the logistics office "
           "(accommodation) work in parallel. The international office's and security's "
           "decisions are read after the join: both approve, the invitation is issued; "
           "either returns, the applicant supplements and the review starts again; "
           "otherwise the application is rejected.",
    "lanes": [("Lane_Applicant", "申请人", 1), ("Lane_Unit", "接待单位", 1),
              ("Lane_International", "国际交流合作处", 2), ("Lane_Security", "保卫处", 1),
              ("Lane_Logistics", "后勤管理处", 1)],
    "nodes": [
        node("StartEvent_Submitted", "start", "提交接待申请", 0, "Lane_Applicant"),
        node("Gateway_Resubmitted", "exclusive", None, 1, "Lane_Applicant"),
        node("Task_Supplement", "user", "补充材料", 5, "Lane_Applicant", assignee="= applicant.id"),
        node("Task_HostReview", "user", "接待单位审核", 2, "Lane_Unit", candidateGroups=UNIT_HEAD),
        node("Gateway_HostDecision", "exclusive", "审核结果", 3, "Lane_Unit", default="Flow_HostRejected"),
        node("Gateway_Fork", "parallel", None, 4, "Lane_International"),
        node("Task_InternationalReview", "user", "国际处审核", 5, "Lane_International",
             candidateGroups="dept:international-office:clerk",
             outputs=[("= decision", "international_decision")]),
        node("Task_SecurityReview", "user", "入校备案", 5, "Lane_Security",
             candidateGroups="dept:security:clerk", outputs=[("= decision", "security_decision")]),
        node("Task_Accommodation", "user", "安排住宿", 5, "Lane_Logistics",
             candidateGroups="dept:logistics:clerk", outputs=[("= decision", "logistics_decision")]),
        node("Gateway_Join", "parallel", None, 6, "Lane_International"),
        node("Gateway_Outcome", "exclusive", "会签结果", 7, "Lane_International", default="Flow_JointRejected"),
        node("Task_IssueInvitation", "service", "签发邀请函", 8, "Lane_International",
             task="international.issue_invitation", retries=3,
             inputs=[("= form.scholar_name", "name"), ("= form.arrival", "arrival"),
                     ("= form.departure", "departure")],
             outputs=[("= invitation_no", "invitation_no")]),
        node("EndEvent_Invited", "end", "接待完成", 9, "Lane_International"),
        node("EndEvent_Rejected", "end", "不予接待", 8, "Lane_International", row=2),
        node("EndEvent_Reminded", "end", "已催办", 5.55, "Lane_International", row=1),
    ],
    "boundaries": [reminder("Event_InternationalReminder", "Task_InternationalReview", "P3D", "3个工作日未审核")],
    "flows": [
        flow("Flow_Start", "StartEvent_Submitted", "Gateway_Resubmitted"),
        flow("Flow_ToHost", "Gateway_Resubmitted", "Task_HostReview"),
        flow("Flow_HostToDecision", "Task_HostReview", "Gateway_HostDecision"),
        flow("Flow_HostApproved", "Gateway_HostDecision", "Gateway_Fork", "同意", APPROVE),
        flow("Flow_HostReturned", "Gateway_HostDecision", "Task_Supplement", "退回补充", RETURN),
        flow("Flow_HostRejected", "Gateway_HostDecision", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_ForkInternational", "Gateway_Fork", "Task_InternationalReview"),
        flow("Flow_ForkSecurity", "Gateway_Fork", "Task_SecurityReview"),
        flow("Flow_ForkLogistics", "Gateway_Fork", "Task_Accommodation"),
        flow("Flow_InternationalDone", "Task_InternationalReview", "Gateway_Join"),
        flow("Flow_SecurityDone", "Task_SecurityReview", "Gateway_Join"),
        flow("Flow_LogisticsDone", "Task_Accommodation", "Gateway_Join"),
        flow("Flow_Joined", "Gateway_Join", "Gateway_Outcome"),
        flow("Flow_JointApproved", "Gateway_Outcome", "Task_IssueInvitation", "均同意",
             '= international_decision = "approve" and security_decision = "approve"'),
        flow("Flow_JointReturned", "Gateway_Outcome", "Task_Supplement", "退回补充",
             '= international_decision = "return_for_supplement" or '
             'security_decision = "return_for_supplement"'),
        flow("Flow_JointRejected", "Gateway_Outcome", "EndEvent_Rejected", "驳回", default=True),
        flow("Flow_Invited", "Task_IssueInvitation", "EndEvent_Invited"),
        flow("Flow_Resubmit", "Task_Supplement", "Gateway_Resubmitted", "重新提交"),
        flow("Flow_Remind", "Event_InternationalReminder", "EndEvent_Reminded"),
    ],
})


# --- geometry --------------------------------------------------------------
class Layout:
    def __init__(self, spec):
        self.spec = spec
        self.lane_top, self.lane_height = {}, {}
        lanes = spec["lanes"] or [(None, None, self._rows(None))]
        y = 80
        for lane_id, _, rows in lanes:
            rows = max(rows, self._rows(lane_id))
            self.lane_top[lane_id] = y
            self.lane_height[lane_id] = rows * ROW_PITCH
            y += rows * ROW_PITCH
        self.pool_top, self.pool_bottom = 80, y
        self.bounds = {}
        max_col = 0
        for n in self.nodes():
            w, h = SIZES[KIND_SHAPE[n["kind"]]]
            cx = COL0_X + n["col"] * COL_PITCH
            cy = self.lane_top[n["lane"]] + LANE_PAD + n["row"] * ROW_PITCH
            self.bounds[n["id"]] = (round(cx - w / 2), round(cy - h / 2), w, h)
            max_col = max(max_col, n["col"])
        for b in spec.get("boundaries", []):
            hx, hy, hw, hh = self.bounds[b["attachedTo"]]
            self.bounds[b["id"]] = (hx + hw - 36 - 12, hy + hh - 18, 36, 36)
        self.pool_right = round(COL0_X + max_col * COL_PITCH + 110)

    def nodes(self):
        return self.spec["nodes"] + self.spec.get("extra_nodes_after", [])

    def _rows(self, lane_id):
        rows = [n["row"] for n in self.spec["nodes"] + self.spec.get("extra_nodes_after", [])
                if n["lane"] == lane_id]
        return (max(rows) + 1) if rows else 1

    def check_overlaps(self):
        boxes = [(n["id"], self.bounds[n["id"]]) for n in self.nodes()]
        for i, (a, (ax, ay, aw, ah)) in enumerate(boxes):
            for b, (bx, by, bw, bh) in boxes[i + 1:]:
                if ax < bx + bw + 10 and bx < ax + aw + 10 and ay < by + bh + 10 and by < ay + ah + 10:
                    raise SystemExit(f"{self.spec['id']}: {a} and {b} overlap")

    def check_edges(self, flows, kinds, attached):
        """No edge segment may cross a shape other than its own ends."""
        for f in flows:
            pts = self.waypoints(f, kinds)
            ends = {f["source"], f["target"], attached.get(f["source"]), attached.get(f["target"])}
            for (x1, y1), (x2, y2) in zip(pts, pts[1:]):
                if x1 != x2 and y1 != y2:
                    raise SystemExit(f"{self.spec['id']}: {f['id']} has a diagonal segment")
                for nid, (bx, by, bw, bh) in self.bounds.items():
                    if nid in ends:
                        continue
                    if (min(x1, x2) < bx + bw and max(x1, x2) > bx and
                            min(y1, y2) < by + bh and max(y1, y2) > by):
                        raise SystemExit(f"{self.spec['id']}: {f['id']} crosses {nid}")

    def waypoints(self, f, kinds):
        sx, sy, sw, sh = self.bounds[f["source"]]
        tx, ty, tw, th = self.bounds[f["target"]]
        scx, scy, tcx, tcy = sx + sw // 2, sy + sh // 2, tx + tw // 2, ty + th // 2
        skind, tkind = kinds[f["source"]], kinds[f["target"]]
        if skind.startswith("boundary"):
            start = (scx, sy + sh)
            if tcx <= scx:   # back to a node on the left: down, left, up into its bottom
                low = max(sy + sh, ty + th) + 20
                return [start, (scx, low), (tcx, low), (tcx, ty + th)]
            if abs(tcy - (sy + sh)) < 1:
                return [start, (scx, tcy)]
            return [start, (scx, tcy), (tx, tcy)]
        if tcx < scx:        # a loop back: leave from below or above, come in from the same side
            if tcy < scy:
                top = min(sy, ty) - 20 if abs(tcy - scy) < 1 else None
                if top is not None:
                    return [(scx, sy), (scx, top), (tcx, top), (tcx, ty)]
                return [(scx, sy), (scx, tcy + th // 2 + 25), (tcx, tcy + th // 2 + 25), (tcx, ty + th)]
            low = max(sy + sh, ty + th) + 20
            return [(scx, sy + sh), (scx, low), (tcx, low), (tcx, ty + th)]
        if abs(scy - tcy) < 1:
            return [(sx + sw, scy), (tx, tcy)]
        if f.get("route") == "join":
            return [(sx + sw, scy), (tcx, scy), (tcx, ty + th if scy > tcy else ty)]
        if KIND_SHAPE.get(skind) == "gateway":   # a split: out of the top or bottom corner
            edge_y = sy + sh if tcy > scy else sy
            if abs(tcx - scx) < 1:
                return [(scx, edge_y), (tcx, ty if tcy > scy else ty + th)]
            return [(scx, edge_y), (scx, tcy), (tx, tcy)]
        if KIND_SHAPE.get(tkind) == "gateway":   # a join: in through the bottom or top corner
            edge_y = ty + th if scy > tcy else ty
            return [(sx + sw, scy), (tcx, scy), (tcx, edge_y)]
        mid = (sx + sw + tx) // 2
        return [(sx + sw, scy), (mid, scy), (mid, tcy), (tx, tcy)]


# --- XML -------------------------------------------------------------------
def a(v):
    # bpmn-moddle (what the modeler saves with) always uses double quotes.
    return '"' + escape(v, {'"': "&#34;"}) + '"'


def write_flow(spec):
    lay = Layout(spec)
    lay.check_overlaps()
    pid = spec["id"]
    nodes = lay.nodes()
    boundaries = spec.get("boundaries", [])
    kinds = {n["id"]: n["kind"] for n in nodes}
    kinds.update({b["id"]: b["kind"] for b in boundaries})
    incoming = {k: [] for k in kinds}
    outgoing = {k: [] for k in kinds}
    ids = set(kinds)
    lay.check_edges(spec["flows"], kinds, {b["id"]: b["attachedTo"] for b in boundaries})
    for f in spec["flows"]:
        assert f["source"] in ids and f["target"] in ids, (pid, f)
        outgoing[f["source"]].append(f["id"])
        incoming[f["target"]].append(f["id"])

    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append(
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
        'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
        'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:modeler="http://camunda.org/schema/modeler/1.0" '
        f'id="Definitions_{pid.replace("-", "_")}" targetNamespace="http://bpmn.io/schema/bpmn" '
        'exporter="Camunda Modeler" exporterVersion="5.25.0" '
        'modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.5.0">')
    collab = f"Collaboration_{pid.replace('-', '_')}"
    participant = f"Participant_{pid.replace('-', '_')}"
    out.append(f'  <bpmn:collaboration id="{collab}">')
    out.append(f'    <bpmn:participant id="{participant}" name={a(spec["participant"])} processRef="{pid}" />')
    out.append('  </bpmn:collaboration>')
    out.append(f'  <bpmn:process id="{pid}" name={a(spec["name"])} isExecutable="true">')
    out.append(f'    <bpmn:documentation>{escape(spec["doc"])}</bpmn:documentation>')
    if spec["lanes"]:
        out.append(f'    <bpmn:laneSet id="LaneSet_{pid.replace("-", "_")}">')
        for lane_id, lane_name, _ in spec["lanes"]:
            out.append(f'      <bpmn:lane id="{lane_id}" name={a(lane_name)}>')
            members = [n["id"] for n in nodes if n["lane"] == lane_id]
            members += [b["id"] for b in boundaries if kinds_lane(nodes, b["attachedTo"]) == lane_id]
            for m in members:
                out.append(f'        <bpmn:flowNodeRef>{m}</bpmn:flowNodeRef>')
            out.append('      </bpmn:lane>')
        out.append('    </bpmn:laneSet>')

    def extension(n, indent):
        ext = []
        if "task" in n:
            ext.append(f'<zeebe:taskDefinition type="{n["task"]}" retries="{n["retries"]}" />')
        if "candidateGroups" in n or "assignee" in n:
            attrs = ""
            if "assignee" in n:
                attrs += f' assignee={a(n["assignee"])}'
            if "candidateGroups" in n:
                attrs += f' candidateGroups={a(n["candidateGroups"])}'
            ext.append(f'<zeebe:assignmentDefinition{attrs} />')
        if n.get("inputs") or n.get("outputs"):
            ext.append('<zeebe:ioMapping>')
            for src, target in n.get("inputs", []):
                ext.append(f'  <zeebe:input source={a(src)} target="{target}" />')
            for src, target in n.get("outputs", []):
                ext.append(f'  <zeebe:output source={a(src)} target="{target}" />')
            ext.append('</zeebe:ioMapping>')
        if n.get("properties"):
            ext.append('<zeebe:properties>')
            for k, v in n["properties"]:
                ext.append(f'  <zeebe:property name="{k}" value="{v}" />')
            ext.append('</zeebe:properties>')
        if not ext:
            return []
        pad = " " * indent
        return ([f"{pad}<bpmn:extensionElements>"] + [f"{pad}  {e}" for e in ext]
                + [f"{pad}</bpmn:extensionElements>"])

    def refs(nid, pad):
        return ([f"{pad}<bpmn:incoming>{i}</bpmn:incoming>" for i in incoming[nid]]
                + [f"{pad}<bpmn:outgoing>{o}</bpmn:outgoing>" for o in outgoing[nid]])

    for n in nodes:
        tag = TAG[n["kind"]]
        attrs = f'id="{n["id"]}"'
        if n["name"]:
            attrs += f' name={a(n["name"])}'
        if n.get("default"):
            attrs += f' default="{n["default"]}"'
        if n["kind"] == "receive":
            attrs += f' messageRef="{n["message"]}"'
        out.append(f"    <bpmn:{tag} {attrs}>")
        out += extension(n, 6)
        out += refs(n["id"], "      ")
        if n["kind"] == "terminate":
            out.append(f'      <bpmn:terminateEventDefinition id="TerminateEventDefinition_{n["id"]}" />')
        out.append(f"    </bpmn:{tag}>")

    for b in boundaries:
        attrs = f'id="{b["id"]}" name={a(b["name"])}'
        if b["kind"] == "boundary-timer" and not b["interrupting"]:
            attrs += ' cancelActivity="false"'
        attrs += f' attachedToRef="{b["attachedTo"]}"'
        out.append(f"    <bpmn:boundaryEvent {attrs}>")
        out += extension(b, 6)
        out += refs(b["id"], "      ")
        if b["kind"] == "boundary-timer":
            out.append(f'      <bpmn:timerEventDefinition id="TimerEventDefinition_{b["id"]}">')
            out.append(f'        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{b["duration"]}</bpmn:timeDuration>')
            out.append('      </bpmn:timerEventDefinition>')
        else:
            out.append(f'      <bpmn:errorEventDefinition id="ErrorEventDefinition_{b["id"]}" errorRef="{b["error"]}" />')
        out.append("    </bpmn:boundaryEvent>")

    for f in spec["flows"]:
        attrs = f'id="{f["id"]}"'
        if f["name"]:
            attrs += f' name={a(f["name"])}'
        attrs += f' sourceRef="{f["source"]}" targetRef="{f["target"]}"'
        if f["condition"]:
            out.append(f"    <bpmn:sequenceFlow {attrs}>")
            out.append(f'      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                       f'{escape(f["condition"])}</bpmn:conditionExpression>')
            out.append("    </bpmn:sequenceFlow>")
        else:
            out.append(f"    <bpmn:sequenceFlow {attrs} />")
    out.append("  </bpmn:process>")

    for mid, name, key in spec.get("messages", []):
        out.append(f'  <bpmn:message id="{mid}" name="{name}">')
        out.append('    <bpmn:extensionElements>')
        out.append(f'      <zeebe:subscription correlationKey={a(key)} />')
        out.append('    </bpmn:extensionElements>')
        out.append('  </bpmn:message>')
    for eid, name, code in spec.get("errors", []):
        out.append(f'  <bpmn:error id="{eid}" name={a(name)} errorCode="{code}" />')

    # Diagram.
    out.append(f'  <bpmndi:BPMNDiagram id="BPMNDiagram_{pid.replace("-", "_")}">')
    out.append(f'    <bpmndi:BPMNPlane id="BPMNPlane_{pid.replace("-", "_")}" bpmnElement="{collab}">')
    out.append(f'      <bpmndi:BPMNShape id="{participant}_di" bpmnElement="{participant}" isHorizontal="true">')
    out.append(f'        <dc:Bounds x="{POOL_X}" y="{lay.pool_top}" width="{lay.pool_right - POOL_X}" '
               f'height="{lay.pool_bottom - lay.pool_top}" />')
    out.append('        <bpmndi:BPMNLabel />')
    out.append('      </bpmndi:BPMNShape>')
    for lane_id, _, _ in spec["lanes"]:
        out.append(f'      <bpmndi:BPMNShape id="{lane_id}_di" bpmnElement="{lane_id}" isHorizontal="true">')
        out.append(f'        <dc:Bounds x="{LANE_X}" y="{lay.lane_top[lane_id]}" width="{lay.pool_right - LANE_X}" '
                   f'height="{lay.lane_height[lane_id]}" />')
        out.append('        <bpmndi:BPMNLabel />')
        out.append('      </bpmndi:BPMNShape>')

    def label(x, y, w, h, pad):
        return [f"{pad}<bpmndi:BPMNLabel>", f'{pad}  <dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" />',
                f"{pad}</bpmndi:BPMNLabel>"]

    for n in nodes + boundaries:
        x, y, w, h = lay.bounds[n["id"]]
        shape = KIND_SHAPE.get(n["kind"], "event")
        extra = ' isMarkerVisible="true"' if n["kind"] == "exclusive" else ""
        out.append(f'      <bpmndi:BPMNShape id="{n["id"]}_di" bpmnElement="{n["id"]}"{extra}>')
        out.append(f'        <dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" />')
        if shape == "task":
            pass
        elif n["name"]:
            lw = min(90, 14 * len(n["name"]))
            if shape == "gateway":
                out += label(x + w // 2 - lw // 2, y - 22, lw, 14, "        ")
            else:
                out += label(x + w // 2 - lw // 2, y + h + 7, lw, 14, "        ")
        out.append('      </bpmndi:BPMNShape>')
    for f in spec["flows"]:
        out.append(f'      <bpmndi:BPMNEdge id="{f["id"]}_di" bpmnElement="{f["id"]}">')
        points = lay.waypoints(f, kinds)
        for x, y in points:
            out.append(f'        <di:waypoint x="{x}" y="{y}" />')
        if f["name"]:
            (x1, y1), (x2, y2) = points[0], points[1]
            lw = min(90, 14 * len(f["name"]))
            out += label(min(x1, x2) + 6, min(y1, y2) - 18 if y1 == y2 else (y1 + y2) // 2 - 7, lw, 14,
                         "        ")
        out.append('      </bpmndi:BPMNEdge>')
    out.append('    </bpmndi:BPMNPlane>')
    out.append('  </bpmndi:BPMNDiagram>')
    out.append('</bpmn:definitions>')
    return "\n".join(out) + "\n"


def kinds_lane(nodes, node_id):
    for n in nodes:
        if n["id"] == node_id:
            return n["lane"]
    return None


def main(argv):
    check = "--check" in argv
    args = [x for x in argv if x != "--check"]
    outdir = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "config" / "flows"
    outdir.mkdir(parents=True, exist_ok=True)
    differ = False
    for spec in FLOWS:
        text = write_flow(spec)
        path = outdir / f"{spec['id']}.bpmn"
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path}: differs from the generator", file=sys.stderr)
                differ = True
        else:
            path.write_text(text, encoding="utf-8")
            print(path)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
