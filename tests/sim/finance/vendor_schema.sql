-- The simulated finance vendor's database (财务系统): its own tables, with the
-- vendor's pinyin-abbreviation names and Chinese comments, and the views and
-- the interface table it publishes for the hub. Loaded by tests/sim/finance's
-- FinanceVendor into a database created as SQL_ASCII, as many legacy finance
-- systems are: the server then passes on whatever bytes a row holds.
CREATE SCHEMA cw;
COMMENT ON SCHEMA cw IS '财务系统';

CREATE TABLE cw.zt_dm (dm smallint PRIMARY KEY, mc varchar(20) NOT NULL);
COMMENT ON TABLE cw.zt_dm IS '报销单状态代码';
INSERT INTO cw.zt_dm VALUES (0, '草稿'), (1, '已提交'), (2, '审核中'), (3, '已审核'), (4, '已支付'), (9, '退回');

CREATE TABLE cw.bx_main (
  djbh varchar(20) PRIMARY KEY,
  sqr_gh varchar(20) NOT NULL,
  sqr_xm varchar(50) NOT NULL,
  bxje numeric(14, 2) NOT NULL,
  zt smallint NOT NULL REFERENCES cw.zt_dm (dm),
  tjrq timestamp,
  shrq timestamp,
  bz text);
COMMENT ON TABLE cw.bx_main IS '报销单主表';
COMMENT ON COLUMN cw.bx_main.djbh IS '单据编号';
COMMENT ON COLUMN cw.bx_main.sqr_gh IS '申请人工号/学号';
COMMENT ON COLUMN cw.bx_main.bxje IS '报销金额（元）';
COMMENT ON COLUMN cw.bx_main.zt IS '状态';
INSERT INTO cw.bx_main VALUES
  ('BX202609001', 'T2001001', '王老师', 3560.80, 4, '2026-09-01 09:30:00', '2026-09-05 15:00:00', '差旅费：北京学术会议'),
  ('BX202609002', 'T2001001', '王老师', 128.00, 2, '2026-09-10 10:00:00', NULL, '办公用品'),
  ('BX202609003', '2023010001', '张三', 45.50, 9, '2026-09-12 14:20:00', NULL, '发票抬头有误，请重新开具');

CREATE TABLE cw.xm_main (
  xmbh varchar(20) PRIMARY KEY,
  xmmc varchar(100) NOT NULL,
  fzr_gh varchar(20) NOT NULL,
  ysje numeric(14, 2) NOT NULL,
  yzje numeric(14, 2) NOT NULL DEFAULT 0,
  djje numeric(14, 2) NOT NULL DEFAULT 0);
COMMENT ON TABLE cw.xm_main IS '科研项目经费';
COMMENT ON COLUMN cw.xm_main.ysje IS '预算金额';
COMMENT ON COLUMN cw.xm_main.yzje IS '已支金额';
COMMENT ON COLUMN cw.xm_main.djje IS '冻结金额';
INSERT INTO cw.xm_main VALUES
  ('KY2026-017', '面向高校一站式服务的数据治理研究', 'T2001001', 500000.00, 123456.78, 20000.00);

-- What the vendor publishes for the hub: stable names, the hub's words.
CREATE VIEW cw.v_hub_reimbursement AS
  SELECT m.djbh AS claim_no, m.sqr_gh AS applicant_id, m.sqr_xm AS applicant_name, m.bxje AS amount,
         m.zt AS status_code, d.mc AS status_name, m.tjrq AS submitted_at, m.shrq AS approved_at, m.bz AS remark
  FROM cw.bx_main m JOIN cw.zt_dm d ON d.dm = m.zt;
COMMENT ON VIEW cw.v_hub_reimbursement IS '报销进度（供网上办事大厅）';

CREATE VIEW cw.v_hub_budget AS
  SELECT xmbh AS project_code, xmmc AS project_name, fzr_gh AS leader_id, ysje AS budget, yzje AS spent,
         djje AS frozen, ysje - yzje - djje AS balance
  FROM cw.xm_main;
COMMENT ON VIEW cw.v_hub_budget IS '项目经费余额（供网上办事大厅）';

-- The interface table the vendor reads requests from: one row per hub key.
CREATE TABLE cw.hub_cuiban (
  id bigserial PRIMARY KEY,
  djbh varchar(20) NOT NULL,
  sqr_gh varchar(20) NOT NULL,
  hub_key varchar(200) NOT NULL UNIQUE,
  bz text,
  cjsj timestamptz NOT NULL DEFAULT now());
COMMENT ON TABLE cw.hub_cuiban IS '催办请求（网上办事大厅写入）';

-- The hub's accounts: one that reads the views, one that writes requests.
GRANT USAGE ON SCHEMA cw TO hub_reader, hub_writer;
GRANT SELECT ON cw.v_hub_reimbursement, cw.v_hub_budget TO hub_reader;
GRANT SELECT, INSERT ON cw.hub_cuiban TO hub_writer;
GRANT USAGE ON SEQUENCE cw.hub_cuiban_id_seq TO hub_writer;
