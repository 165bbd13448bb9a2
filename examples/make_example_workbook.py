"""Writes examples/subcon-example.xlsx: the master data of a small die-casting and machining
business, as a purchaser would keep it in Excel, in the layout Subcon imports.

Run with `python3 examples/make_example_workbook.py` (needs openpyxl). The workbook is committed,
so nobody needs to run this unless they change the data. Dates are real Excel date cells and
quantities real numbers, as people type them, not text.
"""
import datetime
import pathlib

from openpyxl import Workbook
from openpyxl.styles import Font

D = datetime.date

SUPPLIERS = [
    ("供应商编码", "供应商名称", "准入状态", "联系人", "联系电话", "邮箱", "地址", "加工能力"),
    ("SUP-ZY", "常州中圆精密压铸有限公司", "合格", "孙建国", "0519-8866 3101", "sunjg@zy-diecast.example.cn", "江苏省常州市武进区锦华路 18 号", "铝合金压铸、去毛刺"),
    ("SUP-RC", "无锡恒力热处理有限公司", "合格", "钱晓红", "0510-8520 7702", "qianxh@hengli-ht.example.cn", "江苏省无锡市新吴区长江南路 56 号", "T6 热处理、时效处理"),
    ("SUP-TP", "苏州天鹏精密冲压有限公司", "潜在", "周立新", "0512-6290 5530", "", "江苏省苏州市吴中区东吴南路 9 号", "冲压、折弯"),
]

ITEMS = [
    ("物料编码", "物料名称", "规格型号", "单位", "类型", "默认仓库"),
    ("FG-MH-001", "驱动电机壳体总成", "EM-220 型,含密封圈和紧固件", "件", "成品", "WH-P1"),
    ("SF-MH-001", "电机壳体(机加工件)", "EM-220,图号 HD-2201-03 Rev.C", "件", "半成品", "WH-P1"),
    ("SF-MH-001C", "电机壳体压铸毛坯", "ADC12,单重 2.1 kg", "件", "半成品", "WH-P1"),
    ("FG-RD-002", "控制器散热器组件", "CR-65,含导热垫", "件", "成品", "WH-P2"),
    ("SF-RD-002", "散热器基板", "6061-T6,165×120×18", "件", "半成品", "WH-P2"),
    ("FG-BK-003", "控制器安装支架", "SPCC t=2.0,黑色喷涂", "件", "成品", "WH-P2"),
    ("RM-ADC12", "铝合金锭 ADC12", "GB/T 15115", "kg", "原材料", "WH-P1"),
    ("RM-6061", "铝板 6061-T6", "t=20 mm", "kg", "原材料", "WH-P2"),
    ("RM-SPCC", "冷轧钢板 SPCC", "t=2.0 mm,1250×2500", "kg", "原材料", "WH-P2"),
    ("RM-SEAL-80", "O 型密封圈", "Φ80×2.65 氟橡胶", "个", "原材料", "WH-P1"),
    ("RM-BOLT-M6", "内六角螺栓 M6×20", "GB/T 70.1 10.9 级 达克罗", "个", "原材料", "WH-P1"),
    ("RM-PAD-65", "导热硅胶垫", "65×65×1.0 mm,5 W/m·K", "片", "原材料", "WH-P2"),
    ("RM-PAINT-BK", "黑色环氧粉末涂料", "哑光,RAL 9005", "kg", "原材料", ""),
]

BOMS = [
    ("父件编码", "生效日期", "失效日期", "子件编码", "单位用量", "损耗率%", "供料方"),
    # Motor housing: two versions, the second drops two bolts from 2027.
    ("FG-MH-001", D(2026, 1, 1), D(2026, 12, 31), "SF-MH-001", 1, 0.5, "我方发料"),
    ("FG-MH-001", D(2026, 1, 1), D(2026, 12, 31), "RM-SEAL-80", 2, 1, "我方发料"),
    ("FG-MH-001", D(2026, 1, 1), D(2026, 12, 31), "RM-BOLT-M6", 6, None, "供应商自购"),
    ("FG-MH-001", D(2027, 1, 1), None, "SF-MH-001", 1, 0.5, "我方发料"),
    ("FG-MH-001", D(2027, 1, 1), None, "RM-SEAL-80", 2, 1, "我方发料"),
    ("FG-MH-001", D(2027, 1, 1), None, "RM-BOLT-M6", 4, None, "供应商自购"),
    ("SF-MH-001", D(2026, 1, 1), None, "SF-MH-001C", 1, 2, "我方发料"),
    ("SF-MH-001C", D(2026, 1, 1), None, "RM-ADC12", 2.35, 3, "我方发料"),
    ("FG-RD-002", D(2026, 1, 1), None, "SF-RD-002", 1, None, "我方发料"),
    ("FG-RD-002", D(2026, 1, 1), None, "RM-PAD-65", 2, 1.5, "我方发料"),
    ("SF-RD-002", D(2026, 1, 1), None, "RM-6061", 0.82, 5, "我方发料"),
    ("FG-BK-003", D(2026, 1, 1), None, "RM-SPCC", 0.45, 4, "我方发料"),
    ("FG-BK-003", D(2026, 1, 1), None, "RM-PAINT-BK", 0.03, 10, "供应商自购"),
]

ROUTINGS = [
    ("物料编码", "工序号", "工序编码", "工序名称", "加工方式", "默认供应商"),
    ("SF-MH-001C", 10, "DC", "压铸", "委外", "SUP-ZY"),
    ("SF-MH-001C", 20, "DEBURR", "去毛刺", "厂内", None),
    ("SF-MH-001C", 30, "HT-T6", "T6 热处理", "委外", "SUP-RC"),
    ("SF-MH-001", 10, "CNC-R", "CNC 粗加工", "委外", "SUP-JG"),
    ("SF-MH-001", 20, "CNC-F", "CNC 精加工", "委外", "SUP-JG"),
    ("SF-MH-001", 30, "WASH", "清洗", "厂内", None),
    ("SF-MH-001", 40, "ANOD", "阳极氧化", "委外", "SUP-BM"),
    ("SF-MH-001", 50, "FQC", "终检", "厂内", None),
    ("SF-RD-002", 10, "CNC", "CNC 加工", "委外", "SUP-JG"),
    ("SF-RD-002", 20, "ANOD", "阳极氧化", "委外", "SUP-BM"),
    ("FG-BK-003", 10, "STAMP", "冲压成形", "委外", "SUP-JG"),
    ("FG-BK-003", 20, "PAINT", "静电喷涂", "委外", "SUP-BM"),
]

PRICES = [
    ("供应商编码", "物料编码", "工序编码", "币种", "生效日期", "失效日期", "单价", "阶梯价"),
    ("SUP-ZY", "SF-MH-001C", "DC", "CNY", D(2026, 1, 1), D(2026, 12, 31), 52, "1000=50.50; 5000=48.80"),
    ("SUP-RC", "SF-MH-001C", "HT-T6", "CNY", D(2026, 1, 1), D(2026, 12, 31), 3.2, None),
    ("SUP-JG", "SF-MH-001", "CNC-R", "CNY", D(2026, 1, 1), D(2026, 6, 30), 38.5, "500=36.80; 2000=35.00"),
    ("SUP-JG", "SF-MH-001", "CNC-R", "CNY", D(2026, 7, 1), D(2026, 12, 31), 37.2, "500=35.60; 2000=34.00"),
    ("SUP-JG", "SF-MH-001", "CNC-F", "CNY", D(2026, 1, 1), D(2026, 12, 31), 24, None),
    ("SUP-BM", "SF-MH-001", "ANOD", "CNY", D(2026, 1, 1), D(2026, 12, 31), 6.8, "1000=6.20"),
    ("SUP-JG", "SF-RD-002", "CNC", "CNY", D(2026, 1, 1), D(2026, 12, 31), 18.6, None),
    ("SUP-BM", "SF-RD-002", "ANOD", "CNY", D(2026, 1, 1), D(2026, 12, 31), 4.5, None),
    ("SUP-JG", "FG-BK-003", "STAMP", "CNY", D(2026, 1, 1), D(2026, 12, 31), 1.85, "10000=1.72"),
    ("SUP-BM", "FG-BK-003", "PAINT", "CNY", D(2026, 1, 1), D(2026, 12, 31), 0.95, None),
    # A whole item outsourced, priced per finished piece.
    ("SUP-JG", "FG-RD-002", None, "CNY", D(2026, 1, 1), D(2026, 12, 31), 96, "300=92.00"),
]

NOTES = [
    ("说明",),
    ("本工作簿是 Subcon 的导入示例:在「数据导入」页选择「整本工作簿」上传,预览无误后确认导入。",),
    ("工作表按名称识别:供应商、物料、物料清单、工艺路线、价格协议;本页「说明」不会被导入。",),
    ("新建供应商需要管理员账号(演示环境请用 admin / demo 登录)。",),
    ("物料清单中父件与生效日期相同的行组成一个版本;阶梯价写作「数量=单价」,多个用分号分隔。",),
]


def sheet(wb, title, rows, date_columns=()):
    ws = wb.create_sheet(title)
    for r in rows:
        ws.append(list(r))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for col in date_columns:
        for row in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            for cell in row:
                cell.number_format = "yyyy-mm-dd"
    for column in ws.columns:
        ws.column_dimensions[column[0].column_letter].width = 16
    return ws


def main():
    wb = Workbook()
    wb.remove(wb.active)
    sheet(wb, "说明", NOTES).column_dimensions["A"].width = 100
    sheet(wb, "供应商", SUPPLIERS)
    sheet(wb, "物料", ITEMS)
    sheet(wb, "物料清单", BOMS, date_columns=(2, 3))
    sheet(wb, "工艺路线", ROUTINGS)
    sheet(wb, "价格协议", PRICES, date_columns=(5, 6))
    out = pathlib.Path(__file__).with_name("subcon-example.xlsx")
    wb.save(out)
    print(out)


if __name__ == "__main__":
    main()
